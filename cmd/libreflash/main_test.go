package main

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"libreflash/internal/testutil"
)

// TestMain lets testscript run the real program as the "libreflash" command
// in scripts, in a subprocess of the test binary.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"libreflash": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds:                map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits},
		Setup: func(e *testscript.Env) error {
			// Scripts find the recorded flasher runs through $FLASHERS.
			e.Setenv("FLASHERS", flashersDir(t))
			return nil
		},
	})
}

// cmdExits is "exits CODE PROG ARGS...": run PROG like exec (its output can be
// matched by stdout/stderr afterwards) and require exactly exit status CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit status %d, want %d", got, want)
	}
}

// flashersDir is the repository's testdata/flashers (recorded flasher runs).
func flashersDir(t *testing.T) string { return testutil.Flashers(t, "") }
