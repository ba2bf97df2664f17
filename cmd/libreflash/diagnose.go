package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
)

func init() { register(newDiagnoseCmd) }

type diagnoseOptions struct {
	json    bool
	offline bool
}

// maxLog bounds what diagnose reads: far above any real flasher log, low
// enough not to exhaust memory on a wrong file.
const maxLog = 256 << 20

// machineFacts returns what the checks see on this machine. The log was
// made earlier, by another process: the uid is libreflash's own, so only the
// machine's state (lockdown, Secure Boot, kernel config, drivers) counts.
var machineFacts = func(ctx context.Context, a *app) diagnose.Facts {
	r := preflight.Run(ctx, a.preflightEnv(), preflight.Options{Programmer: "internal"})
	f := r.Facts
	f.EUIDNotOfRun = true
	return f
}

func newDiagnoseCmd(a *app) *cobra.Command {
	o := &diagnoseOptions{}
	cmd := &cobra.Command{
		Use:   "diagnose [FILE|-]",
		Short: "Explain a flashprog/flashrom log: outcome, cause and fix",
		Long: `diagnose reads the output of a flashprog or flashrom run — a saved log or one
pasted from a forum or e-mail (colour codes, progress bars, quoting and
wrapped lines are fine) — and says how the run ended, the cause of a failure
with the line that shows it, the steps to fix it and where they are
documented. Without FILE, or with "-", it reads standard input.

Some messages mean different things on different machines: "Could not get
I/O privileges (Operation not permitted)" is a missing sudo or kernel
lockdown. Run on the machine where the log was made, diagnose asks the same
checks as 'libreflash check' and says which facts it used; --offline skips
them and lists the candidates with how to tell them apart.

Exit status: 0 when the log shows a successful run, 1 otherwise.`,
		Example: `  libreflash diagnose flashprog.log
  sudo flashprog -p internal -r backup.rom 2>&1 | libreflash diagnose
  libreflash diagnose --offline --json pasted.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "-"
			if len(args) == 1 {
				name = args[0]
			}
			log, err := a.readLog(name)
			if err != nil {
				return err
			}
			if len(bytes.TrimSpace(log)) == 0 {
				return exitcode.New(exitcode.Usage,
					"the flasher prints errors on stderr: save both streams, e.g. flashprog ... > flashprog.log 2>&1",
					"the log %s is empty", logName(name))
			}
			r := diagnose.Diagnose(log, diagnose.Facts{})
			factsNote := "not needed for this log"
			if o.offline {
				factsNote = "not used (--offline)"
			} else if r.NeedsFacts() {
				r = diagnose.Diagnose(log, machineFacts(cmd.Context(), a))
				factsNote = "none decided anything"
				if len(r.FactsUsed) > 0 {
					factsNote = strings.Join(r.FactsUsed, ", ")
				}
			}
			if o.json {
				if err := a.writeJSON(r); err != nil {
					return err
				}
			} else {
				renderDiagnosis(a.stdout, r, factsNote)
			}
			if !r.OK() {
				return silentExit(exitcode.Error)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.json, "json", false, "print the diagnosis as JSON")
	f.BoolVar(&o.offline, "offline", false, "do not look at this machine: the log comes from elsewhere")
	return cmd
}

// logName is how the user named the log, for messages.
func logName(name string) string {
	if name == "-" {
		return "on standard input"
	}
	return name
}

func (a *app) readLog(name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if a.stdinTTY {
			return nil, usageError(errors.New("no log given: name a file, or pipe the flasher's output in"))
		}
		r = a.stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, exitcode.New(exitcode.Error, "give the path of a saved flashprog/flashrom log, or - for standard input",
				"cannot read the log: %v", err)
		}
		defer f.Close()
		r = f
	}
	log, err := io.ReadAll(io.LimitReader(r, maxLog+1))
	if err != nil {
		return nil, fmt.Errorf("reading the log: %w", err)
	}
	if len(log) > maxLog {
		return nil, exitcode.New(exitcode.Error, "", "the log is larger than %d MiB; is it really a flasher log?", maxLog>>20)
	}
	return log, nil
}

var outcomeText = map[string]string{
	diagnose.Success:      "success: the log shows a finished, successful run",
	diagnose.Failed:       "failed: the operation failed; the flasher reports no change to the chip",
	diagnose.Unchanged:    "unchanged: a write failed, and the flasher checked that the chip was not changed",
	diagnose.UnknownState: "unknown state: a write failed part-way; the chip may be half written",
	diagnose.Incomplete:   "incomplete: the log ends before the operation finished (if it was cut off while writing, treat the chip as half written)",
}

// renderDiagnosis prints the human report: outcome, primary cause with
// evidence, fix and docs, then the other findings and the facts used.
func renderDiagnosis(w io.Writer, r diagnose.Result, factsNote string) {
	fmt.Fprintf(w, "outcome: %s\n", outcomeText[r.Outcome])
	if r.Outcome == diagnose.UnknownState {
		fmt.Fprintln(w, "         DO NOT REBOOT OR POWER OFF until a write has verified (see the fix below).")
	}
	rest := r.Findings
	if p, ok := r.Primary(); ok {
		rest = rest[1:]
		fmt.Fprintf(w, "\ncause:    %s\n", p.ID)
		fmt.Fprintf(w, "          %s\n", p.Summary)
		fmt.Fprintf(w, "evidence: line %d: %s\n", p.Line, p.Evidence)
		if p.Count > 1 {
			fmt.Fprintf(w, "          (%d such lines)\n", p.Count)
		}
		if p.Basis != "" {
			fmt.Fprintf(w, "because:  %s\n", p.Basis)
		}
		fmt.Fprintln(w, "fix:")
		for _, step := range strings.Split(p.Fix, "\n") {
			fmt.Fprintf(w, "  %s\n", step)
		}
		fmt.Fprintf(w, "docs:     %s\n", p.Docs)
		var cands []diagnose.Finding
		for len(rest) > 0 && rest[0].Candidate {
			cands, rest = append(cands, rest[0]), rest[1:]
		}
		if len(cands) > 0 {
			fmt.Fprintln(w, "\nalso possible (the log alone cannot tell):")
			for _, c := range cands {
				fmt.Fprintf(w, "  %s: %s\n", c.ID, c.Summary)
				for _, step := range strings.Split(c.Fix, "\n") {
					fmt.Fprintf(w, "    %s\n", step)
				}
				fmt.Fprintf(w, "    docs: %s\n", c.Docs)
			}
			if p.Check != "" {
				fmt.Fprintf(w, "to tell them apart: %s\n", p.Check)
			}
		}
	} else if r.Outcome == diagnose.Success {
		fmt.Fprintln(w, "\nno problem found that stopped the run.")
	} else if r.Outcome == diagnose.Incomplete {
		fmt.Fprintln(w, "\nno error in the log; it stops before the flasher said how the operation ended.")
	}
	if len(rest) > 0 {
		fmt.Fprintln(w, "\nother findings:")
		for _, f := range rest {
			n := ""
			if f.Count > 1 {
				n = fmt.Sprintf(" (%d×)", f.Count)
			}
			fmt.Fprintf(w, "  [%s] %s, line %d%s: %s\n", f.Severity, f.ID, f.Line, n, f.Summary)
			fmt.Fprintf(w, "      %s\n", f.Evidence)
			if f.Basis != "" {
				fmt.Fprintf(w, "      (%s)\n", f.Basis)
			}
		}
	}
	fmt.Fprintf(w, "\nfacts from this machine's checks: %s\n", factsNote)
}
