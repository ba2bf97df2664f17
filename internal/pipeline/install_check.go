package pipeline

import (
	"context"
	"fmt"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
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
	r := preflight.Run(ctx, env, preflight.Options{Programmer: in.o.Programmer, FlasherPath: in.o.FlasherPath})
	in.report = r
	for _, c := range r.Checks {
		level := "info"
		switch c.Status {
		case preflight.Warn:
			level = "warn"
		case preflight.Fail:
			level = "error"
			if in.o.Rehearse {
				level = "warn" // shown, but a rehearsal goes on (said below)
			}
		}
		msg := fmt.Sprintf("[%s] %s: %s", c.Status, c.ID, c.Summary)
		if c.Status == preflight.Fail && c.Fix != "" {
			msg += "\n  fix: " + strings.ReplaceAll(c.Fix, "\n", "\n  ")
		}
		in.log(level, msg)
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
		in.log("warn", fmt.Sprintf("a real run with -p %s would stop here: %s (the rehearsal goes on, on an emulated chip)",
			r.Programmer, strings.Join(ids, ", ")))
		in.stage(StageCheck, StatusOK)
		return nil
	}
	in.stage(StageCheck, StatusFail)
	return in.offerPrepare(ctx, blocking, ids)
}

// offerPrepare applies the reversible fix when prepare can lift every
// blocker, and asks for a reboot (exit 6); otherwise the run is blocked.
func (in *installer) offerPrepare(ctx context.Context, blocking []preflight.Check, ids []string) error {
	var fixes []string
	allPreparable, anyPreparable := true, false
	checks := make([]restore.Check, 0, len(in.report.Checks))
	for _, c := range in.report.Checks {
		checks = append(checks, restore.Check{ID: c.ID, Status: string(c.Status)})
	}
	for _, c := range blocking {
		// Whether a reversible prepare action lifts it is the catalog's
		// call, with the machine's facts (a missing /dev/mem is not).
		if diagnose.Preparable(diagnose.CheckCause(c.ID, in.report.Facts), in.report.Facts) {
			anyPreparable = true
		} else {
			allPreparable = false
		}
		if c.Fix != "" {
			fixes = append(fixes, c.ID+": "+c.Fix)
		}
	}
	m := in.protections()
	d := m.Derive(checks)
	blocked := func(extra string) error {
		hint := strings.Join(append(fixes, d.Notes...), "\n")
		if extra != "" {
			hint += "\n" + extra
		}
		return &InstallError{Result: ResultBlocked, Code: exitcode.Blocked,
			Err: fmt.Errorf("blocked before any write by: %s; nothing was touched", strings.Join(ids, ", ")),
			Tip: strings.TrimSpace(hint)}
	}
	if !allPreparable || len(d.Actions) == 0 {
		extra := ""
		if len(d.Actions) > 0 && anyPreparable {
			extra = "after that, 'sudo libreflash prepare' can make the reversible changes (" + strings.Join(d.Actions, ", ") + ")"
		}
		return blocked(extra)
	}

	in.stage(StagePrepare, StatusStart)
	plan, err := m.PlanActions(ctx, d.Actions)
	if err != nil {
		in.stage(StagePrepare, StatusFail)
		return err
	}
	for _, s := range plan.Steps {
		line := fmt.Sprintf("%s: %s", s.Action, s.Summary)
		for _, f := range s.Files {
			line += "\n  changes " + f
		}
		for _, c := range s.Commands {
			line += "\n  runs " + strings.Join(c, " ")
		}
		in.log("info", line)
	}
	if plan.Manual() {
		in.stage(StagePrepare, StatusFail)
		var manual []string
		for _, s := range plan.Steps {
			manual = append(manual, s.Manual...)
		}
		return blocked(strings.Join(manual, "\n"))
	}
	q := "The kernel blocks the flasher. Make these reversible changes now (undone after the install)?"
	if in.o.Confirm != nil && !in.o.Confirm(q) {
		in.stage(StagePrepare, StatusSkip)
		return &InstallError{Result: ResultCancelled, Code: exitcode.Cancelled,
			Err: fmt.Errorf("cancelled: the blocking checks (%s) stay as they are; nothing was changed", strings.Join(ids, ", ")),
			Tip: "to make the changes yourself: sudo libreflash prepare"}
	}
	if err := m.Apply(ctx, plan); err != nil {
		in.stage(StagePrepare, StatusFail)
		return err
	}
	in.stage(StagePrepare, StatusOK)
	if !plan.NeedsReboot() {
		// Drivers unloaded, securelevel lowered: in effect at once, so check
		// again and go on when nothing blocks any more.
		r := preflight.Run(ctx, in.o.Env, preflight.Options{Programmer: in.o.Programmer, FlasherPath: in.o.FlasherPath})
		if len(r.Blocking()) == 0 {
			in.report = r
			in.log("info", "the checks pass now")
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
