package pipeline

import (
	"context"
	"fmt"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
	"libreflash/internal/runner"
)

// check runs every machine check. A rehearsal shows them all but blocks on
// none: it writes an emulated chip, which needs no kernel access.
func (in *installer) check(ctx context.Context) error {
	in.stage(StageCheck, StatusStart)
	env := in.o.Env
	if env == nil {
		env = preflight.HostEnv()
		in.o.Env = env
	}
	r := preflight.Run(ctx, env, in.preflightOptions())
	if ctx.Err() != nil {
		// A signal during the checks: what they found then (a flasher
		// probe cut short) is the user's wish to stop, not the machine.
		in.stage(StageCheck, StatusFail)
		return installCancelled("during the checks")
	}
	in.report = r
	cycle := in.dellCycle(r)
	for _, c := range r.Checks {
		if cycle && c.ID == "board" {
			in.emit(cycleCheck(c))
			continue
		}
		// A rehearsal shows them all but blocks on none.
		in.emit(machineCheck(c, c.Status == preflight.Fail && !in.o.Rehearse))
	}
	if err := in.checkUnlockTool(r); err != nil {
		in.stageWhy(StageCheck, StatusFail, ReasonBlocked)
		return err
	}
	if cycle {
		r2, err := in.unlockStage(ctx)
		if err != nil {
			return err
		}
		r = r2
		in.report = r
	}
	blocking := r.Blocking()
	if len(blocking) == 0 {
		in.stage(StageCheck, StatusOK)
		return nil
	}
	ids := make([]string, len(blocking))
	for i, c := range blocking {
		ids[i] = c.ID
	}
	if in.o.Rehearse {
		in.wouldBlock = ids // said in the plan
		in.stage(StageCheck, StatusOK)
		return nil
	}
	in.stageWhy(StageCheck, StatusFail, ReasonBlocked)
	return in.offerPrepare(ctx, blocking, ids)
}

// offerPrepare applies the reversible fix when prepare can lift every
// blocker, and asks for a reboot (exit 6); otherwise the run is blocked.
func (in *installer) offerPrepare(ctx context.Context, blocking []preflight.Check, ids []string) error {
	allPreparable, anyPreparable := true, false
	for _, c := range blocking {
		// Whether a reversible prepare action lifts it is the catalog's
		// call, with the machine's facts (a missing /dev/mem is not).
		if diagnose.Preparable(diagnose.CheckCause(c.ID, in.report.Facts), in.report.Facts) {
			anyPreparable = true
		} else {
			allPreparable = false
		}
	}
	// One derivation for prepare and install: from the checks and the
	// facts they observed, never a second look at the machine.
	d := restore.DeriveFromReport(in.report)
	blocked := func() error {
		return &InstallError{Result: ResultBlocked, Code: exitcode.Blocked,
			Err: fmt.Errorf("blocked before any write by: %s; nothing was touched", strings.Join(ids, ", ")),
			Tip: "fix what the failing checks say, then run again: " + in.retryCommand()}
	}
	if !allPreparable || len(d.Actions) == 0 {
		if len(d.Notes) > 0 || len(d.Actions) > 0 && anyPreparable {
			later := &Prepare{Status: PrepareLater, Notes: d.Notes}
			if anyPreparable {
				later.Actions = d.Actions
			}
			in.emit(later)
		}
		return blocked()
	}

	in.stage(StagePrepare, StatusStart)
	m := in.protections()
	plan, err := m.PlanActions(ctx, d.Actions)
	if err != nil {
		in.stage(StagePrepare, StatusFail)
		return err
	}
	ev := &Prepare{Status: PrepareProposed, Actions: d.Actions, Steps: plan.Steps, Notes: d.Notes}
	if plan.Manual() {
		ev.Status = PrepareManual
		in.emit(ev)
		in.stage(StagePrepare, StatusFail)
		return blocked()
	}
	in.emit(ev)
	q := "The kernel blocks the flasher. Make these reversible changes now (undone after the install)?"
	if in.o.Confirm != nil && !in.o.Confirm(q) {
		in.emit(&Prepare{Status: PrepareDeclined, Actions: d.Actions})
		in.stageWhy(StagePrepare, StatusSkip, ReasonDeclined)
		return &InstallError{Result: ResultCancelled, Code: exitcode.Cancelled,
			Err: fmt.Errorf("cancelled: the blocking checks (%s) stay as they are; nothing was changed", strings.Join(ids, ", ")),
			Tip: "to make the changes yourself: sudo libreflash prepare"}
	}
	if err := m.Apply(ctx, plan); err != nil {
		in.stage(StagePrepare, StatusFail)
		return err
	}
	in.emit(&Prepare{Status: PrepareApplied, Actions: d.Actions, Steps: plan.Steps, Reboot: plan.NeedsReboot()})
	in.stage(StagePrepare, StatusOK)
	if !plan.NeedsReboot() {
		// Drivers unloaded, securelevel lowered: in effect at once, so check
		// again and go on when nothing blocks any more.
		r := preflight.Run(ctx, in.o.Env, in.preflightOptions())
		if len(r.Blocking()) == 0 {
			in.report = r
			in.stage(StageCheck, StatusStart)
			for _, c := range r.Checks {
				in.emit(machineCheck(c, false))
			}
			in.stage(StageCheck, StatusOK)
			return nil
		}
		return &InstallError{Result: ResultPrepared, Code: exitcode.Reboot,
			Err: fmt.Errorf("prepared (%s), but the checks still fail; reboot, then run the same command again", strings.Join(d.Actions, ", ")),
			Tip: "reboot, then run: " + in.retryCommand()}
	}
	return &InstallError{Result: ResultPrepared, Code: exitcode.Reboot,
		Err: fmt.Errorf("prepared (%s): reboot, then run the same command again", strings.Join(d.Actions, ", ")),
		Tip: "reboot, then run: " + in.retryCommand() + "\nit finishes the install and removes what was added (or run 'sudo libreflash restore' to undo it without installing)"}
}

// restoreChecks are the checks as restore.Derive takes them.
// machineCheck is a preflight check as a check event.
func machineCheck(c preflight.Check, blocks bool) *Check {
	return &Check{Source: SourceMachine, ID: c.ID, Status: string(c.Status), Summary: c.Summary,
		Detail: c.Detail, Fix: c.Fix, Docs: c.Docs, Blocks: blocks}
}

// WithFlasher is env with its flasher check given f, the flasher this run
// found for path (--flasher, or "" for the search), instead of a lookup of
// its own: the checks judge the binary that will run, without a second
// --help run of it, and a fixture machine's root (tests) decides the
// machine's facts but not where the flasher is. Other lookups go to env's
// own FindFlasher.
func WithFlasher(env *preflight.Env, path string, f *runner.Flasher) *preflight.Env {
	e := *env
	find := e.FindFlasher
	if find == nil {
		find = runner.Find
	}
	e.FindFlasher = func(ctx context.Context, fo runner.FindOptions) (*runner.Flasher, error) {
		if fo.Explicit == path {
			return f, nil
		}
		return find(ctx, fo)
	}
	return &e
}
