package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mattn/go-isatty"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"libreflash/internal/runner"
)

// app carries what every subcommand needs: the standard streams, whether they
// are terminals, and the diagnostic logger. Subcommands take it instead of
// reaching for os.Stdout so that tests can run them in-process.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stdinTTY       bool // stdin is a terminal: we may ask questions
	stdoutTTY      bool // stdout is a terminal: bars, colour
	log            *log.Logger
	logLevel       string
	getenv         func(string) string
	prompt         *prompter // the one prompter, made on first use
}

// commands lists the constructors of the subcommands. Each subcommand's file
// appends itself in an init function, so adding a command touches one file.
var commands []func(*app) *cobra.Command

func register(f func(*app) *cobra.Command) { commands = append(commands, f) }

// run is the whole program; main only passes it the process's streams and
// exits with what it returns.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	runner.SurviveBrokenPipes()
	a := &app{
		stdin:     stdin,
		stdout:    stdout,
		stderr:    stderr,
		stdinTTY:  isTerminal(stdin),
		stdoutTTY: isTerminal(stdout),
		getenv:    os.Getenv,
	}
	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(context.Background())
	return a.reportError(err)
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "libreflash",
		Short: "Install Libreboot internally, safely, with one command",
		Long: `libreflash wraps flashprog (or flashrom) for an internal Libreboot install:
it checks that the running kernel lets the flasher reach the chip, validates
the image, keeps a verified backup, writes with live progress, verifies, rolls
back on failure, and raises again the protections it lowered.`,
		Example: `  sudo libreflash check
  sudo libreflash install libreboot.rom
  libreflash install libreboot.rom --rehearse
  libreflash diagnose flashprog.log`,
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			// An empty -p would reach the flasher as "-p ''": refuse it here,
			// once for every command that has the flag.
			if f := cmd.Flags().Lookup("programmer"); f != nil && f.Changed && strings.TrimSpace(f.Value.String()) == "" {
				return usageError(errors.New("--programmer: empty programmer name"))
			}
			return a.setupLog()
		},
	}
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "",
		"diagnostic log level: debug, info, warn, error (default info on a terminal, warn otherwise)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError(err)
	})
	for _, f := range commands {
		root.AddCommand(f(a))
	}
	addCompletions(root)
	return root
}

// setupLog configures the diagnostic logger on stderr. Off a terminal it is
// quiet (warnings and errors only) unless --log-level says otherwise; colour
// follows the terminal and NO_COLOR.
func (a *app) setupLog() error {
	l := log.NewWithOptions(a.stderr, log.Options{Prefix: "libreflash"})
	level := log.WarnLevel
	if isTerminal(a.stderr) {
		level = log.InfoLevel
	}
	if a.logLevel != "" {
		lv, err := log.ParseLevel(strings.ToLower(a.logLevel))
		if err != nil {
			return usageError(errors.New("--log-level: want debug, info, warn or error"))
		}
		level = lv
	}
	l.SetLevel(level)
	if a.getenv("NO_COLOR") != "" || !isTerminal(a.stderr) {
		l.SetColorProfile(termenv.Ascii)
	}
	a.log = l
	// debug: every flasher run, its command line, output and timing.
	runner.Trace = nil
	if level <= log.DebugLevel {
		runner.Trace = flasherTracer{l}
	}
	return nil
}

// flasherTracer writes the flasher runs to the diagnostic log
// (--log-level debug): the command line, each output line as it arrives
// (cleaned by the runner), and the exit status with the time taken.
type flasherTracer struct{ l *log.Logger }

func (t flasherTracer) Start(argv []string) {
	t.l.Debug("flasher start", "argv", runner.QuoteArgv(argv))
}

func (t flasherTracer) Line(argv []string, stream, text string) {
	t.l.Debug("flasher "+stream, "line", text)
}

func (t flasherTracer) End(argv []string, exitCode int, took time.Duration) {
	t.l.Debug("flasher exit", "status", exitCode, "took", took.Round(time.Millisecond), "argv", runner.QuoteArgv(argv))
}

// documentSchema is the version of the shape of the one-document --json
// outputs (check, inspect, diagnose, prepare, restore, status), sent first
// in each as "schema" (docs/design.md, "Versioned schema").
const documentSchema = 1

// writeJSON prints v, a JSON object, as indented JSON on stdout with
// "schema" first: the --json output of the commands that print one
// document (the streaming ones print JSON lines).
func (a *app) writeJSON(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) >= 2 && b[0] == '{' {
		head := fmt.Sprintf(`{"schema":%d`, documentSchema)
		if string(b) != "{}" {
			head += ","
		}
		b = append([]byte(head), b[1:]...)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = a.stdout.Write(out.Bytes())
	return err
}

func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	if !ok {
		return false
	}
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
