// Package unlock drives dell-flash-unlock, the tool behind Libreboot's
// route for Dell Latitude laptops still running Dell's BIOS: its first run
// asks the EC for the descriptor override on the next boot; after a shut
// down and power on, the second run disables SMIs (GBL_SMI_EN) so the BIOS
// lock cannot undo the write enable; a run after the write enables SMIs
// again.
//
// The package finds the tool (dell_flash_unlock on $PATH and the sbin
// directories, or an explicit path) under the flasher's ownership rules,
// runs it through internal/runner (own process group, full log kept, a
// timeout), and reads its outcome from its messages and exit status. It
// never touches chipset registers itself: the tool does, and preflight's
// read-only lock-state probe confirms.
package unlock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/restore"
	"libreflash/internal/runner"
)

// Names the tool is installed under: Libreboot's build (util/dell-flash-unlock)
// and upstream both make dell_flash_unlock; releases before 20230423 named
// it e6400_flash_unlock.
var Names = restore.DellToolNames

// DefaultTimeout bounds one run. The tool waits about one second for the
// EC; anything much longer is a hang.
const DefaultTimeout = 30 * time.Second

// Outcome is what a run of the tool did, from its messages.
type Outcome string

const (
	// OverrideArmed: the EC will pull the descriptor-override strap on the
	// next boot; the machine must be shut down (not rebooted) and powered
	// on again.
	OverrideArmed Outcome = "override_armed"
	// SMIsDisabled: GBL_SMI_EN cleared; internal flashing works until the
	// tool is run again. Shutdown misbehaves while SMIs are disabled.
	SMIsDisabled Outcome = "smis_disabled"
	// Unlocked: newer models, no BIOS lock once the override is in effect;
	// nothing was changed that needs undoing.
	Unlocked Outcome = "unlocked"
	// SMIsEnabled: GBL_SMI_EN set again; the machine may be shut down.
	SMIsEnabled Outcome = "smis_enabled"
)

// messages map the tool's lines to outcomes (dell_flash_unlock.c, upstream
// nic3-14159/dell-flash-unlock and lbmk util/dell-flash-unlock). Every line
// of a set must be present.
var messages = []struct {
	outcome Outcome
	lines   []string
}{
	{OverrideArmed, []string{"Flash Descriptor Override enabled.", "Shut down (don't reboot) now."}},
	{SMIsDisabled, []string{"SMIs disabled. Internal flashing should work now."}},
	{Unlocked, []string{"Flash is unlocked."}},
	{SMIsEnabled, []string{"SMIs enabled."}},
}

// failures are the tool's err(3) messages ("dell_flash_unlock: MESSAGE:
// strerror") with what they mean.
var failures = []struct {
	text, means, hint string
}{
	{"Could not access IO ports", "the kernel refused I/O port access (iopl)",
		"run as root on a kernel with CONFIG_X86_IOPL_IOPERM and without lockdown (libreflash check shows which)"},
	{"Could not map RCBA", "/dev/mem refused the chipset's RCBA window",
		"boot with iomem=relaxed (libreflash prepare can add it) or unload lpc_ich and iTCO_wdt"},
	{"/dev/mem", "/dev/mem could not be opened",
		"run as root on a kernel that has /dev/mem and no lockdown"},
	{"Can't forward I/O to LPC", "no free LPC decode range for the EC's ports",
		"this machine's firmware leaves no decode range free; flash externally (see the board's Libreboot page)"},
	{"Timeout while waiting for EC!", "the embedded controller did not answer",
		"this is not a Dell EC the tool knows (or not a Dell at all); nothing was lowered. Flash externally, or ask on Libreboot's IRC with the log"},
	{"Could not disable SMIs!", "SMI_LOCK keeps GBL_SMI_EN set",
		"this firmware locks SMIs; the cycle cannot work here. Flash externally (see the board's Libreboot page)"},
}

// Tool is a located, vetted unlock tool.
type Tool struct {
	Path string
}

// FindOptions says where to look.
type FindOptions struct {
	// Explicit is --unlock-tool PATH; nothing else is tried.
	Explicit string
	// PathEnv is the search list as in $PATH; empty means $PATH plus the
	// sbin directories (runner.LookPath).
	PathEnv string
}

// Find locates the tool and makes sure only root can change it.
func Find(o FindOptions) (*Tool, error) {
	path := o.Explicit
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, &MissingError{Explicit: path, Err: err}
		}
		fi, err := os.Stat(abs)
		switch {
		case err != nil:
			return nil, &MissingError{Explicit: abs, Err: err}
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			return nil, &MissingError{Explicit: abs, Err: errors.New("not an executable file")}
		}
		path = abs
	} else {
		p, ok := runner.LookPath(Names, o.PathEnv)
		if !ok {
			return nil, &MissingError{Searched: runner.SearchDirs(o.PathEnv)}
		}
		path = p
	}
	if err := runner.CheckOwnership(path); err != nil {
		return nil, err // *runner.InsecureError: exit 3 with the chown hint
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, &MissingError{Explicit: path, Err: err}
	}
	return &Tool{Path: resolved}, nil
}

// Result is one run.
type Result struct {
	Outcome Outcome
	// ShutDown: the tool asks for a shut down (not a reboot) next.
	ShutDown bool
	ExitCode int
	// Output is what the tool printed (stdout and stderr interleaved).
	Output string
	Argv   []string
}

// RunOptions configure one run.
type RunOptions struct {
	// Log receives the tool's full output as it comes. May be nil.
	Log io.Writer
	// Timeout bounds the run; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Run runs the tool once and reads what it did. The error is a *RunError
// (exit 3, nothing lowered that the caller must undo) for a failure, a
// hang or text the package does not recognise; a *runner.CancelledError
// when the user stopped it.
func (t *Tool) Run(ctx context.Context, o RunOptions) (*Result, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out strings.Builder
	var w io.Writer = &out
	if o.Log != nil {
		w = io.MultiWriter(&out, o.Log)
	}
	res, err := (&runner.Flasher{Path: t.Path}).Run(tctx, runner.Spec{Log: w})
	r := &Result{Output: out.String(), Argv: []string{t.Path}, ExitCode: -1}
	if res != nil {
		r.ExitCode = res.ExitCode
	}
	var ce *runner.CancelledError
	switch {
	case errors.As(err, &ce) && ctx.Err() == nil && tctx.Err() == context.DeadlineExceeded:
		return r, &RunError{Tool: t.Path, Kind: KindTimeout, Timeout: timeout, Output: r.Output}
	case errors.As(err, &ce):
		return r, err
	}
	outcome, known := Parse(r.Output)
	if err != nil || r.ExitCode != 0 {
		e := &RunError{Tool: t.Path, Kind: KindFailed, Exit: r.ExitCode, Output: r.Output}
		if res == nil {
			e.Err = err // it did not start
		}
		if known {
			e.Said = outcome
		}
		return r, e
	}
	if !known {
		return r, &RunError{Tool: t.Path, Kind: KindUnrecognised, Output: r.Output}
	}
	r.Outcome = outcome
	r.ShutDown = outcome == OverrideArmed
	return r, nil
}

// Parse reads the tool's outcome from its output.
func Parse(out string) (Outcome, bool) {
	var found []Outcome
	for _, m := range messages {
		all := true
		for _, l := range m.lines {
			if !strings.Contains(out, l) {
				all = false
			}
		}
		if all {
			found = append(found, m.outcome)
		}
	}
	if len(found) != 1 {
		return "", false // none, or contradictory messages
	}
	return found[0], true
}

// failure finds the tool's own error message in out.
func failure(out string) (text, means, hint string) {
	for _, f := range failures {
		if strings.Contains(out, f.text) {
			return f.text, f.means, f.hint
		}
	}
	return "", "", ""
}

// Kinds of RunError.
const (
	KindFailed       = "failed"
	KindTimeout      = "timeout"
	KindUnrecognised = "unrecognised"
)

// RunError is a run of the tool that did not end in a known outcome.
type RunError struct {
	Tool    string
	Kind    string
	Exit    int
	Timeout time.Duration
	Output  string
	// Said is the outcome the tool printed although it exited non-zero.
	Said Outcome
	Err  error
}

func (e *RunError) Error() string {
	switch e.Kind {
	case KindTimeout:
		return fmt.Sprintf("the unlock tool %s did not finish within %s and was stopped", e.Tool, e.Timeout)
	case KindUnrecognised:
		return fmt.Sprintf("the unlock tool %s printed nothing libreflash recognises: %s", e.Tool, lastLine(e.Output))
	}
	if e.Err != nil {
		return fmt.Sprintf("the unlock tool %s could not run: %v", e.Tool, e.Err)
	}
	if text, means, _ := failure(e.Output); text != "" {
		return fmt.Sprintf("the unlock tool %s failed (exit %d): %s: %q", e.Tool, e.Exit, means, text)
	}
	if e.Said != "" {
		return fmt.Sprintf("the unlock tool %s reported %s but exited %d", e.Tool, e.Said, e.Exit)
	}
	return fmt.Sprintf("the unlock tool %s failed (exit %d): %s", e.Tool, e.Exit, lastLine(e.Output))
}

func (e *RunError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: nothing was written.
func (e *RunError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *RunError) Hint() string {
	if _, _, hint := failure(e.Output); hint != "" {
		return hint
	}
	switch e.Kind {
	case KindTimeout:
		return "a Dell EC answers within a second or two; the tool was stopped and nothing was written. Run libreflash check, and flash externally if the machine is not a supported Dell"
	case KindUnrecognised:
		return "the tool's log shows its full output; a different dell-flash-unlock version may word its messages differently — report it"
	}
	return "the tool's log shows its full output; nothing was written"
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" {
		return "(no output)"
	}
	return s
}

// MissingError: no unlock tool to run.
type MissingError struct {
	Explicit string
	Searched []string
	Err      error
}

func (e *MissingError) Error() string {
	if e.Explicit != "" {
		return fmt.Sprintf("unlock tool %s: %v", e.Explicit, e.Err)
	}
	return fmt.Sprintf("no dell_flash_unlock found (searched %s)", strings.Join(e.Searched, ":"))
}

func (e *MissingError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *MissingError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *MissingError) Hint() string {
	return "get dell-flash-unlock from Libreboot's build system (util/dell-flash-unlock in lbmk, or a release archive from 20230423 on)\n" +
		"or upstream (https://github.com/nic3-14159/dell-flash-unlock); build it with make, install it as root:\n" +
		"  sudo install -o root -m 0755 dell_flash_unlock /usr/local/sbin/\n" +
		"or name it with --unlock-tool PATH"
}
