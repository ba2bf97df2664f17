package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
)

func init() { register(newCheckCmd) }

type checkOptions struct {
	json       bool
	programmer string
	flasher    string
}

// newPreflightEnv builds the Env the checks look at. The test binary (and
// only it) replaces it to point at a fixture root with fake probes.
var newPreflightEnv = preflight.HostEnv

// preflightEnv is the machine every command that runs checks looks at
// (check, backup, install, prepare, status).
func (a *app) preflightEnv() *preflight.Env { return newPreflightEnv() }

func newCheckCmd(a *app) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Say whether the flasher can reach the chip on this machine, and what to fix",
		Long: `check predicts, before the flasher runs, whether an internal flash can work
here: root, Secure Boot, kernel lockdown, /dev/mem restrictions and drivers
holding the chipset, I/O privileges, the flasher binary, AC power and the
chipset's BIOS write protection. Every check runs; failing ones come with the
steps to fix them. It changes nothing.

Exit status: 0 when nothing blocks, 3 when something does.`,
		Example: `  sudo libreflash check
  sudo libreflash check --json
  libreflash check --programmer ch341a_spi
  libreflash check --flasher /usr/local/sbin/flashprog`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := preflight.Run(cmd.Context(), a.preflightEnv(),
				preflight.Options{Programmer: o.programmer, FlasherPath: o.flasher})
			if o.json {
				if err := a.writeJSON(r); err != nil {
					return err
				}
			} else {
				renderReport(a.stdout, r)
			}
			if !r.OK {
				return silentExit(exitcode.Blocked)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the report as JSON")
	f.StringVarP(&o.programmer, "programmer", "p", "internal", "flasher programmer (-p), e.g. internal, ch341a_spi, dummy:emulate=W25Q128FV")
	f.StringVar(&o.flasher, "flasher", "", "use this flashprog/flashrom binary instead of searching $PATH")
	return cmd
}

// marks are the status column: words rather than symbols, so that logs and
// screen readers say the same thing as the terminal.
var marks = map[preflight.Status]string{
	preflight.Pass: "[pass]",
	preflight.Warn: "[warn]",
	preflight.Fail: "[FAIL]",
	preflight.Skip: "[skip]",
}

// renderReport prints one line per check, then for every failing or warning
// check what was seen and how to fix it, then the verdict.
func renderReport(w io.Writer, r *preflight.Report) {
	width := 0
	for _, c := range r.Checks {
		width = max(width, len(c.ID))
	}
	for _, c := range r.Checks {
		fmt.Fprintf(w, "%s %-*s  %s\n", marks[c.Status], width, c.ID, c.Summary)
	}
	fixedBy := map[string]string{}
	for _, st := range []preflight.Status{preflight.Fail, preflight.Warn} {
		for _, c := range r.Checks {
			if c.Status != st || (c.Detail == "" && c.Fix == "") {
				continue
			}
			fmt.Fprintf(w, "\n%s %s:\n", c.ID, map[preflight.Status]string{preflight.Fail: "blocks", preflight.Warn: "warning"}[st])
			if c.Detail != "" {
				fmt.Fprintf(w, "%s\n", indent(c.Detail, "  "))
			}
			switch {
			case c.Fix != "" && fixedBy[c.Fix] != "":
				// One cause (usually lockdown) behind several checks: one fix.
				fmt.Fprintf(w, "  Fix: as for %s above.\n", fixedBy[c.Fix])
			case c.Fix != "":
				fmt.Fprintf(w, "  Fix:\n%s\n", indent(c.Fix, "    "))
				fixedBy[c.Fix] = c.ID
			}
			if c.Docs != "" {
				fmt.Fprintf(w, "  See %s\n", c.Docs)
			}
		}
	}
	fmt.Fprintln(w)
	if b := r.Blocking(); len(b) > 0 {
		ids := make([]string, len(b))
		for i, c := range b {
			ids[i] = c.ID
		}
		fmt.Fprintf(w, "Blocked for -p %s by: %s. Fix these, then run libreflash check again.\n", r.Programmer, strings.Join(ids, ", "))
		return
	}
	fmt.Fprintf(w, "Nothing blocks flashing with -p %s.\n", r.Programmer)
}
