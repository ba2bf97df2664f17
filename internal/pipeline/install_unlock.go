package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"

	"libreflash/internal/boards"
	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
	"libreflash/internal/unlock"
)

// The Dell unlock cycle as a stage of install (internal/unlock does the
// work): after the checks, when the board's route is dell_unlock and its
// check blocks, the cycle takes one step — arm the override (exit 6: shut
// down, power on, run again), or disable SMIs and check again. SMIs are
// enabled again by the restore stage, after a verified write and after a
// failure that leaves the chip in a known state; after an unknown state
// they stay disabled with the other protections, for the recovery.

// dellCycle says whether this run drives the cycle.
func (in *installer) dellCycle(r *preflight.Report) bool {
	br := r.Board
	if br == nil || br.Route != boards.DellUnlock || in.o.Rehearse || in.o.ForceRoute || in.o.Programmer != "internal" {
		return false
	}
	if ls := br.Lock; ls != nil && ls.SMILockKnown && ls.SMILock && ls.BIOSLocked() {
		return false // the tool cannot disable SMIs here; the board check says so
	}
	c, _ := r.Get("board")
	return c.Status == preflight.Fail
}

// cycleCheck is the board check as install shows it when the unlock
// stage follows: failing, and fixed by that stage rather than by the
// manual steps ('libreflash check' prints those).
func cycleCheck(c preflight.Check) *Check {
	ev := machineCheck(c, true)
	ev.Fix = ""
	return ev
}

// checkUnlockTool refuses --unlock-tool on a machine that is not on the
// Dell route: running it elsewhere pokes an EC that is not Dell's.
func (in *installer) checkUnlockTool(r *preflight.Report) error {
	if in.o.UnlockTool == "" {
		return nil
	}
	br := r.Board
	if br != nil && br.Route == boards.DellUnlock {
		return nil
	}
	what := "this machine is not on Libreboot's board list"
	if br != nil && br.Machine != nil && br.Machine.Known() {
		what = "this machine (" + br.Machine.String() + ") is not on the Dell unlock route"
		if br.Route != "" {
			what += " (route " + string(br.Route) + ")"
		}
	}
	return exitcode.New(exitcode.Blocked, "leave --unlock-tool out; it is for Dell Latitude laptops running Dell's BIOS (libreflash check shows the route)",
		"--unlock-tool %s: %s; nothing was run or written", in.o.UnlockTool, what)
}

// unlockStage takes the cycle one step; on success it returns the checks
// run again.
func (in *installer) unlockStage(ctx context.Context) (*preflight.Report, error) {
	in.stage(StageUnlock, StatusStart)
	c := &unlock.Cycle{Env: in.o.Env, Journal: in.protections(), Find: unlock.FindOptions{Explicit: in.o.UnlockTool},
		Timeout: in.o.UnlockTimeout, Log: in.toolLog(),
		Ran: func(tool string, r *unlock.Result) {
			in.emit(&Unlock{Tool: tool, Outcome: string(r.Outcome), Exit: r.ExitCode})
		}}
	d, err := c.Advance(ctx, in.report.Board.Lock)
	var armed *unlock.ArmedError
	switch {
	case errors.As(err, &armed):
		in.shutDown = true
		in.stage(StageUnlock, StatusOK)
		return nil, &InstallError{Result: ResultPrepared, Code: exitcode.Reboot, Err: err, Tip: armed.Hint()}
	case err != nil:
		in.stage(StageUnlock, StatusFail)
		return nil, err
	}
	in.smisDisabled = d.Outcome == unlock.SMIsDisabled
	in.unlocked = true
	in.stage(StageUnlock, StatusOK)
	// The checks again, now that the flash is unlocked; only what changed
	// is said again.
	r := preflight.Run(ctx, in.o.Env, in.preflightOptions())
	for _, c := range r.Checks {
		if was, ok := in.report.Get(c.ID); ok && was.Status == c.Status && was.Summary == c.Summary {
			continue
		}
		in.emit(machineCheck(c, c.Status == preflight.Fail))
	}
	return r, nil
}

func (in *installer) preflightOptions() preflight.Options {
	return preflight.Options{Programmer: in.o.Programmer, FlasherPath: in.o.FlasherPath, ForceRoute: in.o.ForceRoute}
}

// toolLog is where the unlock tool's output goes: the run's flasher log.
func (in *installer) toolLog() io.Writer {
	if in.rec != nil && in.rec.log != nil {
		return in.rec.log
	}
	return nil
}

// dellUndoer is restore's undo for the SMIs entry, with this run's machine.
func (in *installer) dellUndoer(m *restore.Manager) {
	if m.Undoers == nil {
		m.Undoers = map[string]restore.Undoer{}
	}
	if m.Undoers[restore.ActionDellSMIs] == nil {
		m.Undoers[restore.ActionDellSMIs] = unlock.Undoer(in.o.Env, in.o.UnlockTimeout, in.toolLog())
	}
}

// reenableSMIs enables SMIs again after a failure before any write (the
// chip is untouched), or with --no-restore: shutdown misbehaves while they
// are off, whatever else stays lowered.
func (in *installer) reenableSMIs(ctx context.Context) {
	if !in.smisDisabled {
		return
	}
	in.smisDisabled = false
	in.stage(StageRestore, StatusStart)
	res, err := in.protections().RestoreAction(context.WithoutCancel(ctx), restore.ActionDellSMIs)
	ev := &Restore{}
	if res != nil {
		ev.Undone = res.Undone
	}
	if err != nil {
		ev.Error = fmt.Sprintf("%v (SMIs may still be disabled: run 'sudo libreflash restore')", err)
	}
	in.emit(ev)
	if err != nil {
		in.stage(StageRestore, StatusFail)
		return
	}
	in.stage(StageRestore, StatusOK)
}
