package main

import (
	"errors"
	"fmt"
	"strings"

	"libreflash/internal/exitcode"
)

// The output rules for errors: every line starts with "libreflash: error: "
// or "libreflash: hint: ", messages start lower-case and have no final
// period, and a hint tells the user what to do next.

// usageError marks err as a usage error (exit 2).
func usageError(err error) error {
	return &exitcode.E{Code: exitcode.Usage, Err: err,
		Tip: "run 'libreflash help' or add --help to the command for usage"}
}

// usageHint is a usage error (exit 2) with its own hint.
func usageHint(err error, hint string) error {
	return &exitcode.E{Code: exitcode.Usage, Err: err, Tip: hint}
}

// silentExit ends the program with code without printing anything more: the
// command already said what happened (a check report, a diagnosis, a summary).
type silentExit int

func (s silentExit) Error() string { return fmt.Sprintf("exit status %d", int(s)) }
func (s silentExit) ExitCode() int { return int(s) }

// reportError prints err with its hint and returns the exit code. This is the
// one place where a command's error becomes the process's exit code (with
// exitcode.Of, which a run's summary uses too).
func (a *app) reportError(err error) int {
	if err == nil {
		return exitcode.OK
	}
	var s silentExit
	if errors.As(err, &s) {
		return int(s)
	}
	if exitcode.Of(err) == exitcode.Error && isCobraUsage(err) {
		err = usageError(err)
	}
	code := exitcode.Of(err)
	var r *reportedError
	if errors.As(err, &r) {
		return code // the summary said it all
	}
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(a.stderr, "libreflash: error: %s\n", line)
	}
	if h := exitcode.HintOf(err); h != "" {
		for _, line := range strings.Split(strings.TrimRight(h, "\n"), "\n") {
			fmt.Fprintf(a.stderr, "libreflash: hint: %s\n", line)
		}
	}
	return code
}

// reportedError is an error the command has already shown in full (the
// summary of an install or backup prints the error and its hint with the
// next steps): reportError only maps it to its exit code.
type reportedError struct{ err error }

func (r *reportedError) Error() string { return r.err.Error() }
func (r *reportedError) Unwrap() error { return r.err }

// reported marks err as shown; nil stays nil.
func reported(err error) error {
	if err == nil {
		return nil
	}
	return &reportedError{err}
}

// isCobraUsage recognises the argument errors cobra returns as plain errors
// (unknown command, wrong number of arguments).
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most",
		"unknown flag", "unknown shorthand flag", "invalid argument", "flag needs an argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
