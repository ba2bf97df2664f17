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
		Long: `diagnose reads the output of flashprog or flashrom — a saved log, one pasted
from a forum or e-mail (colour codes, progress bars, quoting, shell prompts
and wrapped lines are fine), or libreflash's own flasher.log — and says how
each run in it ended, what state the chip is in after the last run that
touched it, the cause of a failure with the line that shows it, the steps to
fix it for that state and where they are documented. Without FILE, or with
"-", it reads standard input. The log is read as it comes: its size does not
matter.

A log may hold several runs (a failed write, then a retry or a rollback):
the outcome is the chip's: a later run that wrote nothing does not make a
half-written chip "unchanged", and a verified write of the backup after a
failed write is "rolled back".

Some messages mean different things on different machines: "Could not get\nI/O privileges (Operation not permitted)" is a missing sudo or kernel
lockdown. Run on the machine where the log was made, diagnose asks the same
checks as 'libreflash check' and says which facts it used; --offline skips
them and lists the candidates with how to tell them apart.

Exit status: 0 when the log shows a successful run, 1 otherwise, 2 when the
input is not flasher output.`,
		Example: `  libreflash diagnose flashprog.log
  sudo flashprog -p internal -r backup.rom 2>&1 | libreflash diagnose
  libreflash diagnose /var/lib/libreflash/runs/*/flasher.log
  libreflash diagnose --offline --json pasted.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := "-"
			if len(args) == 1 {
				name = args[0]
			}
			log, err := a.openLog(name, !o.offline)
			if err != nil {
				return err
			}
			defer log.Close()
			r, err := log.diagnose(diagnose.Facts{})
			if err != nil {
				return err
			}
			factsNote := "not needed for this log"
			if o.offline {
				factsNote = "not used (--offline)"
			} else if r.NeedsFacts() {
				if r, err = log.diagnose(machineFacts(cmd.Context(), a)); err != nil {
					return err
				}
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

// flasherLog is a log to diagnose, streamed: a file is read again when
// machine facts are needed; standard input is kept in a temporary file as
// it goes by, for the same reason (not with --offline: no second look).
type flasherLog struct {
	name  string
	file  *os.File // the named file, or the spool of standard input; nil when not kept
	in    io.Reader
	spool bool
	read  bool // read once already
}

func (a *app) openLog(name string, again bool) (*flasherLog, error) {
	l := &flasherLog{name: name}
	if name == "-" {
		if a.stdinTTY {
			return nil, usageError(errors.New("no log given: name a file, or pipe the flasher's output in"))
		}
		if !again {
			l.in = a.stdin
			return l, nil
		}
		f, err := os.CreateTemp("", "libreflash-diagnose-*.log")
		if err != nil {
			return nil, exitcode.New(exitcode.Error, "name the log as a file instead of piping it in",
				"cannot keep standard input for a second look: %v", err)
		}
		os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
		l.file, l.in, l.spool = f, a.stdin, true
		return l, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, exitcode.New(exitcode.Error, "give the path of a saved flashprog/flashrom log, or - for standard input",
			"cannot read the log: %v", err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, usageError(fmt.Errorf("%s is a directory: name the log file in it (a run's flasher.log)", name))
	}
	l.file, l.in = f, f
	return l, nil
}

func (l *flasherLog) Close() error {
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// diagnose streams the log through diagnose; the second time it reads it
// from the start again.
func (l *flasherLog) diagnose(facts diagnose.Facts) (diagnose.Result, error) {
	in := l.in
	switch {
	case l.read && l.file == nil:
		return diagnose.Result{}, errors.New("diagnose: standard input was not kept for a second look")
	case l.read:
		if _, err := l.file.Seek(0, io.SeekStart); err != nil {
			return diagnose.Result{}, fmt.Errorf("reading the log again: %w", err)
		}
		in = l.file
	case l.spool:
		in = io.TeeReader(l.in, l.file)
	}
	l.read = true
	seen := &visible{r: in}
	r, err := diagnose.DiagnoseReader(seen, facts)
	if err != nil {
		return r, fmt.Errorf("reading the log: %w", err)
	}
	if !seen.any {
		return r, exitcode.New(exitcode.Usage,
			"the flasher prints errors on stderr: save both streams, e.g. flashprog ... > flashprog.log 2>&1",
			"the log %s is empty", logName(l.name))
	}
	if !r.FlasherOutput() {
		return r, exitcode.New(exitcode.Usage,
			"diagnose expects what flashprog or flashrom printed (both streams: flashprog ... > flashprog.log 2>&1), "+
				"or libreflash's own flasher.log from a run directory",
			"the log %s is not flasher output: no flasher banner, command line or flasher message in it", logName(l.name))
	}
	return r, nil
}

// visible notes whether anything but whitespace went through.
type visible struct {
	r   io.Reader
	any bool
}

func (v *visible) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	if !v.any && len(bytes.TrimSpace(p[:n])) > 0 {
		v.any = true
	}
	return n, err
}

var outcomeText = map[string]string{
	diagnose.Success:      "success: the log shows a finished, successful run",
	diagnose.Failed:       "failed: the operation failed; the flasher reports no change to the chip",
	diagnose.Unchanged:    "unchanged: a write failed, and the chip still holds what it held before",
	diagnose.RolledBack:   "rolled back: a write failed, then the backup was written back and verified",
	diagnose.UnknownState: "unknown state: a write failed part-way; the chip may be half written",
}

// outcomeLine says how the log ends, for the run that decided it.
func outcomeLine(r diagnose.Result) string {
	if t, ok := outcomeText[r.Outcome]; ok {
		return t
	}
	// Incomplete: what was cut off matters.
	op := ""
	if n := len(r.Runs); n > 0 {
		op = r.Runs[n-1].Operation
	}
	switch op {
	case diagnose.OpWrite, diagnose.OpErase, diagnose.OpUnknown, "":
		return "incomplete: the log ends before the operation finished (if it was cut off while writing, treat the chip as half written)"
	}
	return "incomplete: the log ends during a " + op + "; that run wrote nothing"
}

// renderDiagnosis prints the human report: outcome, the runs, primary
// cause with evidence, fix and docs, then the other findings and the facts
// used. An unknown state starts and ends with DO NOT REBOOT.
func renderDiagnosis(w io.Writer, r diagnose.Result, factsNote string) {
	const doNotReboot = "DO NOT REBOOT OR POWER OFF until a write has verified (see the fix below)."
	danger := r.Outcome == diagnose.UnknownState
	if danger {
		fmt.Fprintln(w, doNotReboot)
	}
	fmt.Fprintf(w, "outcome: %s\n", outcomeLine(r))
	if len(r.Runs) > 1 {
		fmt.Fprintf(w, "\nruns in this log (%d", len(r.Runs))
		if r.RunsOmitted > 0 {
			fmt.Fprintf(w, ", and %d more not listed", r.RunsOmitted)
		}
		fmt.Fprintln(w, "):")
		for _, run := range r.Runs {
			who := strings.TrimSpace(run.Flasher + " " + run.Version)
			if who == "" {
				who = "flasher"
			}
			label := ""
			if run.Label != "" {
				label = " (" + run.Label + ")"
			}
			fmt.Fprintf(w, "  line %d: %s %s%s: %s\n", run.Line, who, run.Operation, label, strings.ReplaceAll(run.Outcome, "_", " "))
		}
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
	if danger {
		fmt.Fprintln(w, doNotReboot)
	}
}
