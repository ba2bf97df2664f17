package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
	"libreflash/internal/statedir"
	"libreflash/internal/unlock"
)

// The host root and the owner required of system tools. Only the test
// binary changes them (main_test.go), to run against fake roots.
var (
	hostRoot   = "/"
	trustedUID = 0
)

// restoreManager is the one place the commands build a restore.Manager.
func (a *app) restoreManager(stateDir string) *restore.Manager {
	m := restore.New(hostRoot, statedir.Resolve(stateDir, a.getenv))
	m.TrustedUID = trustedUID
	// The Dell unlock cycle's SMIs entry is undone by running the tool
	// again, after reading GBL_SMI_EN on this machine.
	// (The machine is looked at only when there is such an entry.)
	m.Undoers = map[string]restore.Undoer{restore.ActionDellSMIs: func(ctx context.Context, e *restore.Entry) error {
		return unlock.Undoer(a.preflightEnv(), 0, nil)(ctx, e)
	}}
	// status reads the same registers to say whether the Dell steps are
	// in effect.
	m.InEffect = unlock.InEffect(a.preflightEnv)
	return m
}

type prepareOptions struct {
	actions  []string
	yes      bool
	dryRun   bool
	json     bool
	stateDir string
}

func init() { register(newPrepareCmd) }

func newPrepareCmd(a *app) *cobra.Command {
	o := &prepareOptions{}
	cmd := &cobra.Command{
		Use:   "prepare [ACTION...]",
		Short: "Lower, reversibly, the protections that block internal flashing",
		Long: `prepare makes the reversible changes that let flashprog reach the boot flash:

  iomem-relaxed    add iomem=relaxed to the kernel command line for the next
                   boot, through the distribution's own mechanism (GRUB drop-in
                   and update-grub, grubby, kernelstub, systemd-boot,
                   rpm-ostree)
  unload-drivers   unload lpc_ich and spi-intel-* until the next boot
  bsd-securelevel  set securelevel=-1 for the next boot (OpenBSD, NetBSD)

Without actions it chooses them from what blocks internal flashing on this
machine. It shows the exact files and commands first, and records every
change in the journal before making it; 'libreflash restore' undoes them.
SecureBoot and kernel lockdown cannot be changed from the running system:
prepare explains the firmware setting instead.

Exit status 6 means a reboot is needed for the changes to take effect.`,
		Example: `  sudo libreflash prepare
  sudo libreflash prepare --dry-run
  sudo libreflash prepare iomem-relaxed --yes`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.actions = args
			return a.runPrepare(cmd, o)
		},
		ValidArgs: restore.Actions,
	}
	f := cmd.Flags()
	f.BoolVarP(&o.yes, "yes", "y", false, "apply without asking (required off a terminal)")
	f.BoolVar(&o.dryRun, "dry-run", false, "show what would change, change nothing")
	f.BoolVar(&o.json, "json", false, "print the plan and result as JSON")
	f.StringVar(&o.stateDir, "state-dir", "", "state directory (default /var/lib/libreflash, env LIBREFLASH_STATE_DIR)")
	return cmd
}

// prepareJSON is prepare --json.
type prepareJSON struct {
	DryRun  bool            `json:"dry_run"`
	Applied bool            `json:"applied"`
	Reboot  bool            `json:"reboot"`
	Steps   []*restore.Step `json:"steps"`
	Notes   []string        `json:"notes,omitempty"`
	Journal string          `json:"journal"`
	Error   string          `json:"error,omitempty"`
}

func (a *app) runPrepare(cmd *cobra.Command, o *prepareOptions) error {
	m := a.restoreManager(o.stateDir)
	if !o.dryRun {
		if !o.yes && o.json {
			return usageError(errors.New("prepare --json does not ask: add --yes to apply, or --dry-run"))
		}
		if !o.yes && !a.stdinTTY {
			return usageError(errors.New("prepare changes the boot configuration: add --yes to apply off a terminal, or --dry-run to see the plan"))
		}
		unlock, err := statedir.Lock(m.StateDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	actions, notes := o.actions, []string(nil)
	if len(actions) == 0 {
		// What blocks internal flashing here, as check sees it.
		r := preflight.Run(cmd.Context(), a.preflightEnv(), preflight.Options{Programmer: "internal"})
		d := restore.DeriveFromReport(r)
		actions, notes = d.Actions, d.Notes
	}
	p, err := m.PlanActions(cmd.Context(), actions)
	if err != nil {
		return err
	}
	p.Notes = append(p.Notes, notes...)
	out := &prepareJSON{DryRun: o.dryRun, Steps: p.Steps, Notes: p.Notes, Journal: statedir.Journal(m.StateDir)}
	if out.Steps == nil {
		out.Steps = []*restore.Step{}
	}
	planned := false
	for _, s := range p.Steps {
		planned = planned || s.Status == "planned"
	}
	if !o.json {
		renderPlan(a.stdout, p, o.dryRun, out.Journal)
	}
	if planned && !o.dryRun && !o.yes {
		ok, err := a.newPrompter(nil).Confirm(cmd.Context(), "Apply these changes?")
		if err != nil {
			return err
		}
		if !ok {
			return exitcode.New(exitcode.Cancelled, "", "cancelled: nothing was changed")
		}
	}
	var applyErr error
	if planned && !o.dryRun {
		applyErr = m.Apply(cmd.Context(), p)
		out.Applied = applyErr == nil
		if applyErr != nil {
			out.Error = applyErr.Error()
		}
	}
	out.Reboot = p.NeedsReboot()
	if o.json {
		if err := a.writeJSON(out); err != nil {
			return err
		}
	} else if !o.dryRun {
		renderApplied(a.stdout, p)
	}
	switch {
	case applyErr != nil:
		if o.json {
			return silentExit(exitcode.Error)
		}
		return applyErr
	case o.dryRun:
		return nil
	case out.Reboot:
		if !o.json {
			fmt.Fprintln(a.stdout, "Reboot now, then run the same command again. After flashing, 'libreflash restore' undoes these changes.")
		}
		return silentExit(exitcode.Reboot)
	case p.Manual() || (len(p.Notes) > 0 && !planned):
		if o.json {
			return silentExit(exitcode.Blocked)
		}
		return exitcode.New(exitcode.Blocked, "follow the steps above, then run libreflash again",
			"libreflash cannot make every needed change on this system by itself")
	}
	return nil
}

// prepareStepsText is the list of prepare steps, one action a line with
// the files it writes, the commands it runs and what the user must do: the
// same for 'prepare' and for the changes install offers.
func prepareStepsText(steps []*restore.Step) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('\n')
		}
		mark := map[string]string{"planned": "change", "already": "done", "manual": "manual", "applied": "done"}[s.Status]
		fmt.Fprintf(&b, "%-7s %s: %s", mark, s.Action, s.Summary)
		for _, f := range s.Files {
			fmt.Fprintf(&b, "\n          write %s", f)
		}
		for _, c := range s.Commands {
			fmt.Fprintf(&b, "\n          run   %s", strings.Join(c, " "))
		}
		for _, m := range s.Manual {
			fmt.Fprintf(&b, "\n          - %s", m)
		}
	}
	return b.String()
}

func renderPlan(w io.Writer, p *restore.Plan, dryRun bool, journal string) {
	if len(p.Steps) == 0 && len(p.Notes) == 0 {
		fmt.Fprintln(w, "Nothing to prepare: nothing that libreflash can lower blocks internal flashing.")
		return
	}
	fmt.Fprintln(w, prepareStepsText(p.Steps))
	planned := false
	for _, s := range p.Steps {
		planned = planned || s.Status == "planned"
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "firmware: %s\n", n)
	}
	if planned {
		verb := "Each change is recorded in"
		if dryRun {
			verb = "Dry run: nothing was changed. Each change would be recorded in"
		}
		fmt.Fprintf(w, "%s %s before it is made; 'libreflash restore' undoes them.\n", verb, journal)
	}
}

func renderApplied(w io.Writer, p *restore.Plan) {
	for _, s := range p.Steps {
		if s.Status == "applied" {
			when := "now"
			if s.Reboot {
				when = "on the next boot"
			}
			fmt.Fprintf(w, "applied %s: takes effect %s\n", s.Action, when)
		}
	}
}
