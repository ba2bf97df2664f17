package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// written is what the write stage works from and leaves behind.
type written struct {
	plan   *installPlan
	backup *installBackup
}

// writeOp is the write of file, the chip known to hold contents ("" when
// unknown). The flasher does not verify: libreflash reads the chip once
// and compares (issue 13 item 8).
func (w *written) writeOp(file, contents string) WriteOp {
	return WriteOp{Image: file, Region: w.plan.region, Contents: contents, NoVerify: true}
}

// writeAndVerify writes the image, verifies it by one read of its own, and
// on any failure decides the chip's state and acts on it (docs/design.md).
func (in *installer) writeAndVerify(ctx context.Context, w *written) error {
	in.stage(StageWrite, StatusStart)
	// The flasher writes the copy in the run directory: it must still be
	// the image that was checked (issue 13: a swapped runs/<ts>/image.rom).
	if err := statedir.VerifyPath(w.plan.image, w.plan.img.SHA256()); err != nil {
		in.stage(StageWrite, StatusFail)
		return &InstallError{Result: ResultBlocked, Code: exitcode.Blocked, Err: fmt.Errorf("not writing: %w", err),
			Tip: "nothing was written; something other than libreflash writes in its state directory: find out what, then run again"}
	}
	fr := in.s.write(ctx, StageWrite, w.writeOp(w.plan.image, w.backup.current.Path))
	if fr.err != nil {
		in.stage(StageWrite, StatusFail)
		return in.writeFailed(ctx, w, fr, nil)
	}
	in.stage(StageWrite, StatusOK)
	in.stage(StageVerify, StatusStart)
	v := in.verifyRead(ctx, w, StageVerify, AgainstImage, w.plan.image)
	if v.OK {
		in.stage(StageVerify, StatusOK)
		return nil
	}
	in.stage(StageVerify, StatusFail)
	return in.writeFailed(ctx, w, fr, v)
}

// verifyRead reads the chip once into the run directory and compares it
// with want: the whole chip, or for a region write the BIOS region with
// want and the rest with what the chip held before (the write must not
// have touched it). Read is "" when the chip could not be read.
func (in *installer) verifyRead(ctx context.Context, w *written, stage, against, want string) *Verify {
	name := "verify.rom"
	if stage != StageVerify {
		name = stage + ".rom"
	}
	file := filepath.Join(in.rec.dir, name)
	for i := 2; ; i++ {
		if _, err := os.Lstat(file); os.IsNotExist(err) {
			break
		}
		file = filepath.Join(in.rec.dir, fmt.Sprintf("%s-%d.rom", strings.TrimSuffix(name, ".rom"), i))
	}
	v := &Verify{Against: against}
	if _, _, err := in.s.read(ctx, stage, 0, 0, file, true); err != nil {
		in.emit(v)
		return v
	}
	v.Read = file
	var bios *rom.Region
	if w.plan.region {
		if r, ok := w.plan.img.IFD.Region("bios"); ok {
			bios = &r
			v.Regions = []string{"bios"}
		}
	}
	ok, at, err := compareChip(file, want, w.backup.current.Path, bios)
	v.OK = err == nil && ok
	if err == nil && !ok {
		v.Mismatch = &at
	}
	in.emit(v)
	return v
}

// compareChip compares the chip as read with want; with bios set, only
// that region with want and the rest with before. at is the offset of the
// first differing byte.
func compareChip(read, want, before string, bios *rom.Region) (ok bool, at int64, err error) {
	got, err := os.ReadFile(read)
	if err != nil {
		return false, 0, err
	}
	w, err := os.ReadFile(want)
	if err != nil {
		return false, 0, err
	}
	if len(got) != len(w) {
		return false, int64(min(len(got), len(w))), nil
	}
	if bios == nil {
		return firstDiff(got, w, 0)
	}
	b, err := os.ReadFile(before)
	if err != nil {
		return false, 0, err
	}
	if len(b) != len(got) || bios.Base < 0 || bios.Limit >= int64(len(got)) || bios.Base > bios.Limit {
		return false, 0, fmt.Errorf("the BIOS region %#x-%#x is not inside the chip", bios.Base, bios.Limit)
	}
	lo, hi := bios.Base, bios.Limit+1
	if ok, at, _ := firstDiff(got[:lo], b[:lo], 0); !ok {
		return false, at, nil
	}
	if ok, at, _ := firstDiff(got[lo:hi], w[lo:hi], lo); !ok {
		return false, at, nil
	}
	return firstDiff(got[hi:], b[hi:], hi)
}

func firstDiff(a, b []byte, base int64) (bool, int64, error) {
	if bytes.Equal(a, b) {
		return true, 0, nil
	}
	for i := range a {
		if a[i] != b[i] {
			return false, base + int64(i), nil
		}
	}
	return false, base + int64(len(a)), nil
}

// writeFailed decides the chip's state after a failed write (fr failed) or
// a failed verify (v, the chip as read after the write). "Unchanged" tells
// the user it is safe to reboot, so it needs positive evidence: the flasher
// said so, or it failed with a message that comes before any access to the
// chip, or the chip as read back matches what it held before. Anything
// else is rolled back to the verified backup.
func (in *installer) writeFailed(ctx context.Context, w *written, fr *flashRun, v *Verify) error {
	// After an interrupted write the chip held neither old nor new
	// firmware before this run: "unchanged" is no way back then.
	if w.backup.current.Role == RoleSnapshot {
		return in.stillUnknown(ctx, w, fr, v)
	}
	var cause string
	fixFor := func(string) string { return "" }
	if fr.err != nil {
		d := in.diagnoseRun(fr, "")
		cause, fixFor = primary(d, in.report.Facts)
		switch {
		case fr.unknown:
		case fr.unchanged || d.Outcome == diagnose.Unchanged:
			return in.unchanged(ctx, BasisFlasherSaid, cause, fixFor)
		case !fr.wrote && d.StoppedBeforeChip():
			return in.unchanged(ctx, BasisBeforeChip, cause, fixFor)
		}
		// The flasher failed without saying what it left on the chip:
		// read it back to know.
		v = in.verifyRead(ctx, w, StageVerify, AgainstBackup, w.backup.current.Path)
		if v.OK {
			return in.unchanged(ctx, BasisReadBack, cause, fixFor)
		}
	} else {
		cause = "the chip does not hold the image after the write"
		if v.Read != "" {
			// The flasher said it wrote; the chip says otherwise. Does it
			// still hold what it held before?
			if same, _, err := compareChip(v.Read, w.backup.current.Path, w.backup.current.Path, nil); err == nil && same {
				in.emit(&ChipState{State: ChipUnchanged, Basis: BasisReadBack})
				in.restoreProtections(ctx)
				return &InstallError{Result: ResultUnchanged, Code: exitcode.Unchanged,
					Err: fmt.Errorf("the flasher reported a write, but the chip still holds what it held before: nothing was written"),
					Tip: "the chip still holds its old firmware; it is safe to reboot\nthe flasher's log: " + in.rec.logPath}
			}
		}
	}

	basis := BasisReadBack
	switch {
	case fr.unknown:
		basis = BasisFlasherUnsure
	case v == nil || v.Read == "":
		basis = BasisNoEvidence
	}
	in.emit(&ChipState{State: ChipUnknown, Basis: basis})
	return in.rollBack(ctx, w, v, cause, fixFor)
}

// stillUnknown handles a failed write on a chip an earlier run left in an
// unknown state: whatever the flasher did, the way back is the earlier
// run's backup.
func (in *installer) stillUnknown(ctx context.Context, w *written, fr *flashRun, v *Verify) error {
	cause := "the chip does not hold the image after the write"
	fixFor := func(string) string { return "" }
	if fr.err != nil {
		d := in.diagnoseRun(fr, "")
		cause, fixFor = primary(d, in.report.Facts)
		if fr.unchanged || !fr.wrote && d.StoppedBeforeChip() {
			// It still holds the snapshot: the rollback need not read it.
			v = &Verify{Read: w.backup.current.Path}
		} else {
			v = in.verifyRead(ctx, w, StageVerify, AgainstBackup, w.backup.current.Path)
		}
	}
	basis := BasisReadBack
	if v == nil || v.Read == "" {
		basis = BasisNoEvidence
	}
	in.emit(&ChipState{State: ChipUnknown, Basis: basis})
	return in.rollBack(ctx, w, v, cause, fixFor)
}

// unchanged ends a failed install whose chip holds its old firmware.
func (in *installer) unchanged(ctx context.Context, basis, cause string, fixFor func(string) string) error {
	in.emit(&ChipState{State: ChipUnchanged, Basis: basis})
	in.restoreProtections(ctx)
	return &InstallError{Result: ResultUnchanged, Code: exitcode.Unchanged,
		Err: fmt.Errorf("the write failed and the chip is unchanged: %s", cause),
		Tip: strings.TrimSpace(fixFor(diagnose.Unchanged) + "\nthe chip still holds its old firmware; it is safe to reboot\nthe flasher's log: " + in.rec.logPath)}
}

// rollBack writes the way back onto a chip in an unknown state, after
// checking it against its recorded sha256, and verifies it by one read.
// v is the chip as last read, when it was: the flasher then need not read
// it first.
func (in *installer) rollBack(ctx context.Context, w *written, v *Verify, cause string, fixFor func(string) string) error {
	in.stage(StageRollback, StatusStart)
	target, err := in.trustedBackup(*w.backup.target)
	if err != nil {
		in.stage(StageRollback, StatusFail)
		in.emit(&ChipState{State: ChipUnknown, Basis: BasisNoEvidence})
		return &InstallError{Result: ResultUnknownState, Code: exitcode.Unknown,
			Err: fmt.Errorf("the write failed (%s) and the backup cannot be trusted (%v): the chip is in an unknown state; do not reboot or power off", cause, err),
			Tip: "follow the recovery steps; do not reboot or power off"}
	}
	w.backup.target = target
	contents := ""
	if v != nil {
		contents = v.Read
	}
	rb := in.s.write(ctx, StageRollback, w.writeOp(target.Path, contents))
	if rb.err == nil {
		if rv := in.verifyRead(ctx, w, StageRollback, AgainstBackup, target.Path); rv.OK {
			in.stage(StageRollback, StatusOK)
			in.emit(&ChipState{State: ChipRolledBack, Basis: BasisReadBack})
			in.restoreProtections(ctx)
			return &InstallError{Result: ResultRolledBack, Code: exitcode.Unchanged,
				Err: fmt.Errorf("the write failed (%s); the chip was rolled back to the verified backup and verified", cause),
				Tip: strings.TrimSpace(fixFor(diagnose.RolledBack) + "\nthe chip holds its old firmware again; it is safe to reboot\nthe flasher's log: " + in.rec.logPath)}
		}
	} else {
		// The rollback started on a chip already in an unknown state:
		// whatever its own run says ("nothing was written"), the fix is
		// the unknown state's.
		in.diagnoseRun(rb, diagnose.UnknownState)
	}
	in.stage(StageRollback, StatusFail)
	in.emit(&ChipState{State: ChipUnknown, Basis: BasisNoEvidence})
	return &InstallError{Result: ResultUnknownState, Code: exitcode.Unknown,
		Err: fmt.Errorf("the write failed (%s) and writing the backup back failed too: the chip is in an unknown state; do not reboot or power off", cause),
		Tip: "follow the recovery steps; do not reboot or power off"}
}

// diagnoseRun diagnoses a failed write or rollback run and emits its
// findings; with outcome set, each carries that outcome's fix rather than
// the one for what the run itself did.
func (in *installer) diagnoseRun(fr *flashRun, outcome string) diagnose.Result {
	d := diagnose.DiagnoseRun(fr.log, fr.exitCode(), in.report.Facts)
	for _, f := range d.Findings {
		if outcome != "" {
			f.Fix = diagnose.Fix(f.ID, outcome, in.report.Facts)
		}
		in.emit(&Finding{f})
	}
	return d
}

// recoverySteps are what to do with a chip in an unknown state, in order.
func (in *installer) recoverySteps(w *written) []Next {
	stay := []Next{{ID: NextProtectionsStay}}
	if in.smisDisabled {
		// Said on their own: they are what the write back needs, and
		// what a shut down afterwards needs enabled again.
		stay = append(stay, Next{ID: NextSMIsStay, Command: "sudo libreflash restore"})
	}
	if w == nil || w.backup == nil {
		return append(append([]Next{{ID: NextKeepPower}}, stay...), Next{ID: NextRunAgain, Command: in.retryCommand()})
	}
	b := w.backup.target
	info := in.s.fl.Info()
	argv := []string{info.Path, "-p", w.plan.prog, "-w", b.Path}
	if w.plan.region {
		argv = append(argv, "--ifd", "-i", "bios", "-N")
	}
	next := []Next{{ID: NextKeepPower}, {ID: NextCopyBackup, Path: b.Path, SHA256: b.SHA256}}
	next = append(next, stay...)
	return append(next,
		Next{ID: NextRetryBackup, Command: "sudo " + runner.QuoteArgv(argv)},
		Next{ID: NextRunAgain, Command: in.retryCommand()},
		Next{ID: NextExternal, Path: b.Path, Docs: "https://libreboot.org/docs/install/spi.html"})
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
		in.emit(&Restore{Error: err.Error()})
		return
	}
	if len(j.Entries) == 0 {
		in.stageWhy(StageRestore, StatusSkip, ReasonNoJournal)
		return
	}
	if in.o.NoRestore {
		if in.smisDisabled {
			in.reenableSMIs(ctx)
			return
		}
		in.stageWhy(StageRestore, StatusSkip, ReasonNoRestore)
		return
	}
	in.smisDisabled = false // the restore below enables them
	in.stage(StageRestore, StatusStart)
	res, err := m.Restore(ctx)
	ev := &Restore{}
	if res != nil {
		ev.Undone = res.Undone
	}
	if err != nil {
		ev.Error = err.Error()
	}
	in.emit(ev)
	if err != nil {
		in.stage(StageRestore, StatusFail)
		return
	}
	in.stage(StageRestore, StatusOK)
}
