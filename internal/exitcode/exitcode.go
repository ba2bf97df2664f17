// Package exitcode holds libreflash's process exit codes (docs/design.md) and
// the small interfaces through which any package's error chooses one.
//
// Packages return their own typed errors; cmd/libreflash maps them to an exit
// code and a hint in one place by asking, with errors.As, for the Coder and
// Hinter interfaces below. That keeps the mapping in one function while no
// package has to import the command layer.
package exitcode

import (
	"errors"
	"fmt"
)

// Exit codes. They are a contract with scripts and users: never renumber.
const (
	OK        = 0   // success (for check: nothing blocks)
	Error     = 1   // unexpected error
	Usage     = 2   // usage error
	Blocked   = 3   // blocked before any write; nothing touched
	Unchanged = 4   // write failed, chip unchanged or rolled back to the verified backup
	Unknown   = 5   // chip in unknown state: do not reboot or power off
	Reboot    = 6   // prepared; reboot required, then run the same command again
	Cancelled = 130 // cancelled by the user before any write
)

// Coder is implemented by errors that know their exit code.
type Coder interface{ ExitCode() int }

// Hinter is implemented by errors that carry a hint for the user: one or more
// lines telling them what to do next.
type Hinter interface{ Hint() string }

// E is a ready-made error with an exit code and an optional hint, for the
// cases where a package-specific type would add nothing.
type E struct {
	Code int
	Err  error
	Tip  string
}

func (e *E) Error() string { return e.Err.Error() }
func (e *E) Unwrap() error { return e.Err }

// ExitCode implements Coder.
func (e *E) ExitCode() int { return e.Code }

// Hint implements Hinter.
func (e *E) Hint() string { return e.Tip }

// New returns an *E with the given code and hint; format is as for fmt.Errorf.
func New(code int, hint string, format string, args ...any) error {
	return &E{Code: code, Err: fmt.Errorf(format, args...), Tip: hint}
}

// Wrap gives err an exit code and hint, keeping it in the chain.
func Wrap(code int, hint string, err error) error {
	if err == nil {
		return nil
	}
	return &E{Code: code, Err: err, Tip: hint}
}

// Of is the exit code for err: OK for nil, the code of the first Coder in
// its chain, else Error. Every layer that turns an error into an exit code
// (the command layer, a run's summary) asks this one function.
func Of(err error) int {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Error
}

// HintOf is the hint of the first Hinter in err's chain, or "".
func HintOf(err error) string {
	var h Hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}
