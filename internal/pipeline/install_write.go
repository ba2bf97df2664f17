package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
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
	ops := newOpTracker(in, stage)
	fr.res, fr.err = in.fl.Run(ctx, runner.Spec{Programmer: in.prog, Args: args, Log: in.logWriter(&buf), Shield: true,
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
				if strings.Contains(e.Text, "Chip content is identical") {
					fr.identical = true
				}
			}
			ops.event(e)
		},
		OnSignal: in.onSignal,
	})
	ops.close(fr.err == nil)
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
	ops := newOpTracker(in, StageVerify)
	_, err := in.fl.Run(ctx, runner.Spec{Programmer: in.prog, Args: args, Log: in.logWriter(&buf), Shield: true,
		OnEvent: ops.event, OnSignal: in.onSignal})
	ops.close(err == nil)
	return err == nil, buf.Bytes()
}

func (in *installer) onSignal(sig os.Signal) {
	in.log("warn", fmt.Sprintf("received %s: the flasher goes on, because stopping it now would leave the chip unusable; "+
		"libreflash stops as soon as the chip is in a known state", runner.SignalName(sig)))
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
			why := "the flasher did not verify the write"
			if fr.identical {
				why = "the chip already held the image, so the flasher wrote and verified nothing"
			}
			in.log("info", why+": verifying with -v")
			var vlog []byte
			ok, vlog = in.verifyFile(ctx, in.image)
			if !ok {
				fr.log = append(fr.log, vlog...)
			}
		}
		if ok {
			in.stage(StageVerify, StatusOK)
			if len(in.signals) > 0 {
				in.log("warn", fmt.Sprintf("the install finished although %s arrived during the write: the chip is written and verified",
					signalNames(in.signals)))
			}
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
		unchanged, how = true, "the flasher found it unchanged"
	case !fr.wrote && !fr.verifyRan && d.StoppedBeforeChip():
		unchanged, how = true, "the flasher stopped before it touched the chip"
	case !fr.wrote && !fr.verifyRan:
		in.log("info", "the flasher failed without saying what it did to the chip: reading it back to compare with the backup")
		same, vlog := in.verifyFile(ctx, in.backup.Path)
		fr.log = append(fr.log, vlog...)
		if same {
			unchanged, how = true, "it still matches the verified backup, read back to make sure"
		}
	}
	if unchanged {
		in.log("info", "the chip is unchanged ("+how+"): it still holds the firmware it had, so it is safe to reboot")
		in.restoreProtections(ctx)
		return &InstallError{Result: ResultUnchanged, Code: exitcode.Unchanged,
			Err: fmt.Errorf("the write failed and the chip is unchanged: %s", cause),
			Tip: strings.TrimSpace(fixFor(diagnose.Unchanged) + "\nthe chip still holds its old firmware; it is safe to reboot\nthe flasher's log: " + in.run.logPath)}
	}

	in.log("error", "DO NOT REBOOT OR POWER OFF: the chip is in an unknown state. Writing the verified backup back now.")
	in.stage(StageRollback, StatusStart)
	// The chip's contents are unknown, so no --flash-contents: the flasher
	// must read what is there.
	rb := in.flash(ctx, StageRollback, in.backup.Path, "", nil)
	ok := rb.err == nil && rb.verified
	if rb.err == nil && !rb.verified {
		var vlog []byte
		ok, vlog = in.verifyFile(ctx, in.backup.Path)
		rb.log = append(rb.log, vlog...)
	}
	if ok {
		in.stage(StageRollback, StatusOK)
		in.log("info", "rolled back: the chip holds the verified backup again, so it is safe to reboot")
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
	steps := in.recoverySteps()
	in.log("error", "the chip is still in an unknown state; recovery:\n  "+strings.Join(steps, "\n  "))
	return &InstallError{Result: ResultUnknownState, Code: exitcode.Unknown,
		Err: fmt.Errorf("the write failed (%s) and writing the backup back failed too: the chip is in an unknown state; do not reboot or power off", cause),
		Tip: strings.Join(steps, "\n")}
}

// recoverySteps are what to do with a chip in an unknown state, in order.
func (in *installer) recoverySteps() []string {
	manual := runner.QuoteArgv(append([]string{in.fl.Path, "-p", in.prog, "-w", in.backup.Path}, in.regionArgs()...))
	return []string{
		"keep the machine on: do not reboot, power off, suspend or close the lid; plug in the charger",
		fmt.Sprintf("the verified backup is %s (sha256 %s); copy it to a USB stick now", in.backup.Path, in.backup.SHA256),
		"the protections libreflash lowered stay lowered (not restored): the flasher needs them to recover",
		"retry writing the backup: sudo " + manual,
		"or retry the install: " + in.retryCommand(),
		"if neither verifies, the chip can be written with an external programmer (clip and CH341A or Raspberry Pi) from another computer, " +
			"with the backup above: https://libreboot.org/docs/install/spi.html",
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

func signalNames(sigs []os.Signal) string {
	seen := map[string]bool{}
	var names []string
	for _, s := range sigs {
		n := runner.SignalName(s)
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// restoreProtections undoes what prepare did, after a verified write or
// when the chip is known to hold its old firmware. Never after an unknown
// state: recovery needs the flasher to work.
func (in *installer) restoreProtections(ctx context.Context) {
	if in.o.Rehearse {
		in.stage(StageRestore, StatusSkip)
		return
	}
	m := in.protections()
	j, err := m.Journal()
	if err != nil {
		in.stage(StageRestore, StatusFail)
		in.log("error", fmt.Sprintf("cannot read the journal of lowered protections: %v; run 'sudo libreflash status'", err))
		return
	}
	if len(j.Entries) == 0 {
		in.stage(StageRestore, StatusSkip)
		return
	}
	if in.o.NoRestore {
		in.stage(StageRestore, StatusSkip)
		in.log("warn", "protections left lowered (--no-restore); undo them later with: sudo libreflash restore")
		return
	}
	in.stage(StageRestore, StatusStart)
	res, err := m.Restore(ctx)
	if res != nil {
		for _, u := range res.Undone {
			if u.Error != "" {
				in.log("error", fmt.Sprintf("could not undo %s: %s", u.Action, u.Error))
			} else {
				in.log("info", "undone: "+u.Summary)
			}
		}
	}
	if err != nil {
		in.stage(StageRestore, StatusFail)
		in.log("error", "some protections were not restored; run 'sudo libreflash restore' to retry")
		return
	}
	in.stage(StageRestore, StatusOK)
}

// opTracker turns one flasher run's stage and progress events into
// progress events, with an elapsed-time tick so that a flasher without
// --progress (flashrom 1.3) still shows each operation's timer.
type opTracker struct {
	in    *installer
	stage string

	mu    sync.Mutex
	op    string
	start time.Time
	pct   *int
	stop  chan struct{}
	done  sync.WaitGroup
}

func newOpTracker(in *installer, stage string) *opTracker {
	t := &opTracker{in: in, stage: stage, stop: make(chan struct{})}
	t.done.Add(1)
	go func() {
		defer t.done.Done()
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case <-t.stop:
				return
			case <-tk.C:
				t.mu.Lock()
				if t.op != "" {
					t.emit("")
				}
				t.mu.Unlock()
			}
		}
	}()
	return t
}

// emit sends a progress event for the open operation; t.mu is held.
func (t *opTracker) emit(status string) {
	t.in.emit(Event{Type: TypeProgress, Stage: t.stage, Op: t.op, Status: status, Percent: t.pct,
		Elapsed: time.Since(t.start).Seconds()})
}

func (t *opTracker) event(e runner.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch e.Kind {
	case runner.EvStageStart:
		if e.Stage == runner.StageRead || e.Stage == runner.StageVerify {
			t.in.addReads(1)
		}
		if t.op != "" {
			t.emit(StatusOK)
		}
		t.op, t.start, t.pct = string(e.Stage), time.Now(), nil
		t.emit(StatusStart)
	case runner.EvStageEnd:
		if t.op == "" {
			return
		}
		st := StatusOK
		if !e.OK {
			st = StatusFail
		}
		t.emit(st)
		t.op = ""
	case runner.EvProgress:
		if t.op == "" {
			return
		}
		if t.pct == nil || *t.pct != e.Percent {
			t.pct = Percent(e.Percent)
			t.emit("")
		}
	case runner.EvLine:
		// flashrom re-reads the chip after a failed erase or write.
		t.in.addReads(strings.Count(e.Text, "Reading current flash chip contents"))
	case runner.EvWarning, runner.EvError, runner.EvUnknownState:
		if strings.Contains(e.Text, "has status UNTESTED") {
			return // the flasher's plea for test reports, after every probe
		}
		level := "warn"
		if e.Kind != runner.EvWarning {
			level = "error"
		}
		t.in.emit(Event{Type: TypeLog, Level: level, Message: e.Text})
	}
}

func (t *opTracker) close(ok bool) {
	close(t.stop)
	t.done.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.op != "" {
		st := StatusOK
		if !ok {
			st = StatusFail
		}
		t.emit(st)
		t.op = ""
	}
}
