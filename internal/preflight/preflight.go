// Package preflight predicts, before the flasher runs, whether it can reach
// the flash chip on this machine, and if not, why and how to fix it.
//
// It owns the Env (every host path behind one root directory, and the live
// probes: geteuid, iopl, a read-only mmap of /dev/mem) and the list of
// checks, one file each. Every check runs; the Report shows them all and
// the Facts they observed, which diagnose uses to tell apart flashprog's
// ambiguous messages.
package preflight

import (
	"context"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/runner"
)

// Status is a check's verdict.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail" // blocks the install
	Skip Status = "skip" // does not apply here
)

// Check is one check's result (docs/design.md).
type Check struct {
	ID      string `json:"id"`
	Status  Status `json:"status"`
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
	Docs    string `json:"docs,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	OK         bool    `json:"ok"`
	Programmer string  `json:"programmer"`
	Checks     []Check `json:"checks"`
	// Facts are what the checks observed, for diagnose.
	Facts diagnose.Facts `json:"-"`
	// Flasher is what the flasher check found; nil when it failed.
	Flasher *runner.Flasher `json:"-"`
	// Board is what the board check found: machine, running firmware,
	// route and, for the routes that need it, the lock registers.
	Board *BoardReport `json:"-"`
}

// Options select what the checks are for.
type Options struct {
	// Programmer is the flasher's -p argument; "" means internal.
	Programmer string
	// FlasherPath is --flasher; "" searches $PATH.
	FlasherPath string
	// ForceRoute (--force-route) turns a blocking board route
	// (external_required, jumper not set, Dell cycle not done) into a
	// warning, for experts who know another way.
	ForceRoute bool
}

// Blocking returns the failed checks: what stops the install for the
// report's programmer. Checks that only matter to the internal programmer
// never fail for another one (Run turns them into warnings).
func (r *Report) Blocking() []Check {
	var out []Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// Get returns the check with the given ID.
func (r *Report) Get(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// definition is one registered check.
type definition struct {
	id  string
	run func(*state) Check
	// informational reports whether a failure is only informational for
	// programmer (its name without parameters): the kernel-access checks do
	// not concern an external programmer, and nothing concerns dummy.
	informational func(programmer string) bool
	// applies, when set, leaves the check out of reports for other systems.
	applies func(e *Env) bool
}

// registry lists the checks in report order.
var registry = []definition{
	boardCheck,
	rootCheck,
	secureBootCheck,
	lockdownCheck,
	devmemCheck,
	ioplCheck,
	flasherCheck,
	powerCheck,
	spiLockCheck,
	securelevelCheck,
}

// internalOnly is the informational rule for the kernel-access checks.
func internalOnly(programmer string) bool { return programmer != "internal" }

// Run runs every check against e and returns the report.
func Run(ctx context.Context, e *Env, o Options) *Report {
	prog := o.Programmer
	if prog == "" {
		prog = "internal"
	}
	s := gather(ctx, e.withDefaults(), o, programmerName(prog))
	r := &Report{OK: true, Programmer: prog}
	for _, d := range registry {
		if d.applies != nil && !d.applies(s.env) {
			continue
		}
		c := d.run(s)
		c.ID = d.id
		if c.Status == Fail && d.informational != nil && d.informational(s.programmer) {
			c.Status = Warn
			c.Detail = strings.TrimSpace("Informational: -p " + s.programmer +
				" does not need this, so it does not block. " + c.Detail)
		}
		if c.Status == Fail {
			r.OK = false
		}
		r.Checks = append(r.Checks, c)
	}
	s.facts.Available = true
	r.Facts = s.facts
	r.Flasher = s.flasher
	r.Board = s.board
	return r
}

// programmerName strips the parameters: "dummy:emulate=W25Q128FV" → "dummy".
func programmerName(p string) string {
	name, _, _ := strings.Cut(p, ":")
	return strings.TrimSpace(name)
}

// Docs links shown with the checks.
const (
	docsDevmem   = "https://libreboot.org/docs/install/devmem.html"
	docsFAQ      = "https://flashprog.org/wiki/FAQ"
	docsInternal = "https://libreboot.org/docs/install/"
)
