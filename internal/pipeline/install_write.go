package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"

	"libreflash/internal/runner"
)

// flashRun is what one shielded write (the image, or the backup when
// rolling back) did, as the flasher told it.
type flashRun struct {
	res       *runner.Result
	err       error
	log       []byte
	wrote     bool // an erase or write stage started
	verified  bool // the flasher's own verification passed
	verifyRan bool // it started one
	identical bool // nothing to write ("Chip content is identical")
	unknown   bool // "Your flash chip is in an unknown state."
	unchanged bool // "writing to the flash chip apparently didn't do anything"
}

// exitCode is the flasher's exit status, -1 when it did not exit normally.
func (fr *flashRun) exitCode() int {
	if fr.res == nil {
		return -1
	}
	return fr.res.ExitCode
}

// regionArgs restrict a write or verify to the BIOS region when the plan
// says so; -N keeps the flasher from verifying the regions it may not read.
func (in *installer) regionArgs() []string {
	if in.region {
		return []string{"--ifd", "-i", "bios", "-N"}
	}
	return nil
}

// flash writes file with the flasher, shielded from signals. ref, when not
// empty, is passed as --flash-contents: the chip is known to hold it, so
// the flasher need not read it first. stage names the pipeline stage the
// run belongs to (write or rollback) for the progress events.
func (in *installer) flash(ctx context.Context, stage, file, ref string, onVerify func()) *flashRun {
	args := append([]string{"-w", file}, in.regionArgs()...)
	if in.fl.Caps.Progress {
		args = append(args, "--progress")
	}
	if ref != "" {
		args = append(args, "--flash-contents", ref)
	}
	fr := &flashRun{}
	var buf bytes.Buffer
	fmt.Fprintf(in.run.log, "# libreflash: %s: %s\n", stage, runner.QuoteArgv(append([]string{in.fl.Path, "-p", in.prog}, args...)))
	fr.res, fr.err = runOp(ctx, counted(in.fl, &in.runs), in.emit, time.Second, flasherOp{Stage: stage, Spec: runner.Spec{
		Programmer: in.prog, Args: args, Log: in.logWriter(&buf), Shield: true,
		OnEvent: func(e runner.Event) {
			switch e.Kind {
			case runner.EvStageStart:
				switch e.Stage {
				case runner.StageWrite, runner.StageErase:
					fr.wrote = true
				case runner.StageVerify:
					fr.verifyRan = true
					if onVerify != nil {
						onVerify()
					}
				}
			case runner.EvStageEnd:
				if e.Stage == runner.StageVerify && e.OK {
					fr.verified = true
				}
			case runner.EvUnknownState:
				fr.unknown = true
			case runner.EvUnchanged:
				fr.unchanged = true
			case runner.EvWarning:
				if e.Kind == runner.EvIdentical {
					fr.identical = true
				}
			}
		},
	}}, &in.said, in.addReads)
	fr.log = buf.Bytes()
	if fr.res != nil {
		in.signals = append(in.signals, fr.res.Signalled...)
	}
	return fr
}

// verifyFile runs the flasher's -v against file: one read of the chip.
func (in *installer) verifyFile(ctx context.Context, file string) (bool, []byte) {
	args := append([]string{"-v", file}, in.regionArgs()...)
	if in.fl.Caps.Progress {
		args = append(args, "--progress")
	}
	var buf bytes.Buffer
	fmt.Fprintf(in.run.log, "# libreflash: verify: %s\n", runner.QuoteArgv(append([]string{in.fl.Path, "-p", in.prog}, args...)))
	_, err := runOp(ctx, counted(in.fl, &in.runs), in.emit, time.Second, flasherOp{Stage: StageVerify, Spec: runner.Spec{
		Programmer: in.prog, Args: args, Log: in.logWriter(&buf), Shield: true}}, &in.said, in.addReads)
	return err == nil, buf.Bytes()
}

// writeAndVerify writes the image, makes sure it is verified, and on any
// failure decides the chip's state and acts on it (docs/design.md).
func (in *installer) writeAndVerify(ctx context.Context) error {
	ref := ""
	if in.fl.Caps.FlashContents {
		ref = in.backup.Path
	}
	in.stage(StageWrite, StatusStart)
	// The flasher verifies inside the same run: the write stage ends when
	// its verification starts.
	verifying := false
	fr := in.flash(ctx, StageWrite, in.image, ref, func() {
		verifying = true
		in.stage(StageWrite, StatusOK)
		in.stage(StageVerify, StatusStart)
	})
	if fr.err == nil {
		if !verifying {
			in.stage(StageWrite, StatusOK)
			in.stage(StageVerify, StatusStart)
		}
		ok := fr.verified
		if !ok {
			// Nothing to write (identical), or a flasher that did not
			// verify: check the chip against the image ourselves.
			var vlog []byte
			ok, vlog = in.verifyFile(ctx, in.image)
			if !ok {
				fr.log = append(fr.log, vlog...)
			}
		}
		if ok {
			in.stage(StageVerify, StatusOK)
			return nil
		}
		in.stage(StageVerify, StatusFail)
	} else if verifying {
		in.stage(StageVerify, StatusFail)
	} else {
		in.stage(StageWrite, StatusFail)
	}
	return in.writeFailed(ctx, fr)
}

// writeFailed diagnoses a failed write. A chip that did not change leaves
// the run at exit 4; anything else is rolled back to the verified backup.
func (in *installer) writeFailed(ctx context.Context, fr *flashRun) error {
	d := diagnose.DiagnoseRun(fr.log, fr.exitCode(), in.report.Facts)
	for _, f := range d.Findings {
		in.finding(f)
	}
	cause, fixFor := primary(d, in.report.Facts)
	// "Unchanged" tells the user it is safe to reboot, so it needs positive
	// evidence: the flasher said so (it compared the chip with what it held
	// before), or it failed with a message that comes before any access to
	// the chip, or reading the chip back shows the verified backup. The absence of an
	// erase or write line in the log is no evidence: the flasher's wording
	// may be one the parser does not know.
	unchanged, how := false, ""
	switch {
	case fr.unknown:
	case fr.unchanged || d.Outcome == diagnose.Unchanged:
		unchanged, how = true, BasisFlasherSaid
	case !fr.wrote && !fr.verifyRan && d.StoppedBeforeChip():
		unchanged, how = true, BasisBeforeChip
	case !fr.wrote && !fr.verifyRan:
		// The flasher failed without saying what it did to the chip:
		// read it back and compare with the backup.
		same, vlog := in.verifyFile(ctx, in.backup.Path)
		fr.log = append(fr.log, vlog...)
		if same {
			unchanged, how = true, BasisReadBack
		}
	}
	if unchanged {
		in.emit(Event{Data: &ChipState{State: ChipUnchanged, Basis: how}})
		in.restoreProtections(ctx)
		return &InstallError{Result: ResultUnchanged, Code: exitcode.Unchanged,
			Err: fmt.Errorf("the write failed and the chip is unchanged: %s", cause),
			Tip: strings.TrimSpace(fixFor(diagnose.Unchanged) + "\nthe chip still holds its old firmware; it is safe to reboot\nthe flasher's log: " + in.run.logPath)}
	}

	basis := BasisNoEvidence
	if fr.unknown {
		basis = BasisFlasherUnsure
	}
	in.emit(Event{Data: &ChipState{State: ChipUnknown, Basis: basis}})
	in.stage(StageRollback, StatusStart)
	// The chip's contents are unknown, so no --flash-contents: the flasher
	// must read what is there.
	rb := in.flash(ctx, StageRollback, in.backup.Path, "", nil)
	ok, rbBasis := rb.err == nil && rb.verified, BasisFlasherSaid
	if rb.err == nil && !rb.verified {
		rbBasis = BasisReadBack
		var vlog []byte
		ok, vlog = in.verifyFile(ctx, in.backup.Path)
		rb.log = append(rb.log, vlog...)
	}
	if ok {
		in.stage(StageRollback, StatusOK)
		in.emit(Event{Data: &ChipState{State: ChipRolledBack, Basis: rbBasis}})
		in.restoreProtections(ctx)
		return &InstallError{Result: ResultRolledBack, Code: exitcode.Unchanged,
			Err: fmt.Errorf("the write failed (%s); the chip was rolled back to the verified backup and verified", cause),
			Tip: strings.TrimSpace(fixFor(diagnose.RolledBack) + "\nthe chip holds its old firmware again; it is safe to reboot\nthe flasher's log: " + in.run.logPath)}
	}
	in.stage(StageRollback, StatusFail)
	rd := diagnose.DiagnoseRun(rb.log, rb.exitCode(), in.report.Facts)
	for _, f := range rd.Findings {
		in.finding(f)
	}
	in.emit(Event{Data: &ChipState{State: ChipUnknown, Basis: BasisNoEvidence}})
	return &InstallError{Result: ResultUnknownState, Code: exitcode.Unknown,
		Err: fmt.Errorf("the write failed (%s) and writing the backup back failed too: the chip is in an unknown state; do not reboot or power off", cause),
		Tip: "follow the recovery steps; do not reboot or power off"}
}

// recoverySteps are what to do with a chip in an unknown state, in order.
func (in *installer) recoverySteps() []Next {
	manual := runner.QuoteArgv(append([]string{in.fl.Path, "-p", in.prog, "-w", in.backup.Path}, in.regionArgs()...))
	return []Next{
		{ID: NextKeepPower},
		{ID: NextCopyBackup, Path: in.backup.Path, SHA256: in.backup.SHA256},
		{ID: NextProtectionsStay},
		{ID: NextRetryBackup, Command: "sudo " + manual},
		{ID: NextRunAgain, Command: in.retryCommand()},
		{ID: NextExternal, Path: in.backup.Path, Docs: "https://libreboot.org/docs/install/spi.html"},
	}
}

// primary is the diagnosis's first cause and its fix, for messages.
// The fix is the catalog's branch for the chip's state the install ends
// in (diagnose.Fix), not the one for the flasher run's own outcome.
func primary(d diagnose.Result, facts diagnose.Facts) (cause string, fixFor func(outcome string) string) {
	if len(d.Findings) == 0 {
		return "cause not recognised", func(string) string { return "" }
	}
	f := d.Findings[0]
	cause = f.ID
	if f.Summary != "" {
		cause = f.Summary
	}
	return cause, func(outcome string) string { return diagnose.Fix(f.ID, outcome, facts) }
}

// restoreProtections undoes what prepare did, after a verified write or
// when the chip is known to hold its old firmware. Never after an unknown
// state: recovery needs the flasher to work.
func (in *installer) restoreProtections(ctx context.Context) {
	if in.o.Rehearse {
		in.stageWhy(StageRestore, StatusSkip, ReasonRehearsal)
		return
	}
	m := in.protections()
	j, err := m.Journal()
	if err != nil {
		in.stage(StageRestore, StatusFail)
		in.emit(Event{Data: &Restore{Error: err.Error()}})
		return
	}
	if len(j.Entries) == 0 {
		in.stageWhy(StageRestore, StatusSkip, ReasonNoJournal)
		return
	}
	if in.o.NoRestore {
		in.stageWhy(StageRestore, StatusSkip, ReasonNoRestore)
		return
	}
	in.stage(StageRestore, StatusStart)
	res, err := m.Restore(ctx)
	ev := &Restore{}
	if res != nil {
		ev.Undone = res.Undone
	}
	if err != nil {
		ev.Error = err.Error()
	}
	in.emit(Event{Data: ev})
	if err != nil {
		in.stage(StageRestore, StatusFail)
		return
	}
	in.stage(StageRestore, StatusOK)
}
