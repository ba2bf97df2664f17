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
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
)

// Cycle is the Dell unlock cycle as install drives it, one step per run:
//
//	locked:            journal dell-override-armed, run the tool → "shut
//	                   down (do not reboot)": exit 6
//	after power-on:    the strap reads as set; journal dell-smis-disabled,
//	                   run the tool → SMIs disabled: the install goes on
//	after the write:   restore runs the tool again (Undoer) → SMIs enabled
//
// Every step is journaled before the tool runs. The lock registers
// (preflight.LockState) predict the step and confirm it.
type Cycle struct {
	Env     *preflight.Env
	Journal *restore.Manager
	Find    FindOptions
	Timeout time.Duration
	Log     io.Writer
	// Ran, when set, hears of every run of the tool: its result (the
	// outcome empty when the run failed).
	Ran func(tool string, r *Result)
}

// Disabled is what Advance reports when the install may go on.
type Disabled struct {
	Outcome Outcome // SMIsDisabled or Unlocked
	Tool    string
}

// Advance takes the cycle one step from the lock state ls (read by the
// board check). It returns the outcome when the flash is unlocked for the
// write; an *ArmedError (exit 6) when the user must shut down and power on;
// a *RebootedError, a *MissingError, an insecure tool or a *RunError
// (exit 3) otherwise — with the journal saying exactly what is lowered.
func (c *Cycle) Advance(ctx context.Context, ls *preflight.LockState) (*Disabled, error) {
	armed, err := c.Journal.Pending(restore.ActionDellOverride)
	if err != nil {
		return nil, err
	}
	unlocked := ls != nil && ls.DescriptorUnlocked()
	if !unlocked && len(armed) > 0 {
		a := armed[len(armed)-1]
		if a.BootID != "" && a.BootID == bootID(c.Env) {
			return nil, &ArmedError{Again: true}
		}
		// Armed in an earlier boot, and still no override: that boot
		// ended in a reboot, which keeps the EC from pulling the strap.
		for _, e := range armed {
			_ = c.Journal.Forget(e.ID)
		}
		return nil, &RebootedError{}
	}
	tool, err := Find(c.Find)
	if err != nil {
		return nil, err
	}
	action := restore.ActionDellOverride
	if unlocked {
		action = restore.ActionDellSMIs
	}
	// The journal holds the tool's host path: under the machine's root
	// when the tool is there (a test's fixture root), as is otherwise.
	hostTool := tool.Path
	if root := filepath.Clean(c.Env.Path("/")); root != "/" && strings.HasPrefix(tool.Path, root+"/") {
		hostTool = strings.TrimPrefix(tool.Path, root)
	}
	e, err := c.Journal.Begin(&restore.Entry{Action: action, Backend: restore.BackendDellUnlock,
		Undo: []restore.Command{{Tool: hostTool}}, Expect: "running " + hostTool})
	if err != nil {
		return nil, err
	}
	for _, a := range armed { // the strap is set: the armed step is done
		_ = c.Journal.Forget(a.ID)
	}
	r, err := tool.Run(ctx, RunOptions{Log: c.Log, Timeout: c.Timeout})
	if c.Ran != nil && r != nil {
		c.Ran(tool.Path, r)
	}
	if err != nil {
		return nil, c.failed(e, err)
	}
	settle := func(action, expect string) error {
		if e.Action != action { // the tool took another step than predicted
			_ = c.Journal.Forget(e.ID)
			ne, err := c.Journal.Begin(&restore.Entry{Action: action, Backend: restore.BackendDellUnlock,
				Undo: []restore.Command{{Tool: hostTool}}})
			if err != nil {
				return err
			}
			e = ne
		}
		e.Expect = expect
		return c.Journal.Settle(e)
	}
	switch r.Outcome {
	case OverrideArmed:
		if err := settle(restore.ActionDellOverride, ExpectArmed); err != nil {
			return nil, err
		}
		return nil, &ArmedError{}
	case SMIsDisabled:
		if err := settle(restore.ActionDellSMIs, ExpectSMIs); err != nil {
			return nil, err
		}
		// Confirm: GBL_SMI_EN must read clear now.
		if after := preflight.ReadLockState(c.Env); after.SMIEnKnown && after.GblSMIEn {
			return nil, &RunError{Tool: tool.Path, Kind: KindUnrecognised, Output: r.Output + "\n(GBL_SMI_EN still reads 1)"}
		}
		return &Disabled{Outcome: SMIsDisabled, Tool: tool.Path}, nil
	case Unlocked:
		_ = c.Journal.Forget(e.ID)
		return &Disabled{Outcome: Unlocked, Tool: tool.Path}, nil
	default: // SMIsEnabled: SMIs were off before this run, not by us
		_ = c.Journal.Forget(e.ID)
		return nil, &exitcode.E{Code: exitcode.Blocked,
			Err: errors.New("the unlock tool found SMIs already disabled (by an earlier run outside libreflash) and enabled them again; nothing was written"),
			Tip: "run the same command again: it disables them for the write and enables them after"}
	}
}

// failed keeps the journal true after a failed run: an SMIs entry stays
// unless the registers show SMIs enabled (then nothing was lowered).
func (c *Cycle) failed(e *restore.Entry, err error) error {
	if e.Action == restore.ActionDellOverride {
		_ = c.Journal.Forget(e.ID)
		return err
	}
	if ls := preflight.ReadLockState(c.Env); ls.SMIEnKnown && ls.GblSMIEn {
		_ = c.Journal.Forget(e.ID)
		return err
	}
	return &exitcode.E{Code: exitcode.Blocked, Err: fmt.Errorf("%w; SMIs may be disabled now", err),
		Tip: hintOf(err) + "\nlibreflash restore runs the tool again to enable SMIs (the journal keeps the step)"}
}

func hintOf(err error) string {
	var h exitcode.Hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

func bootID(e *preflight.Env) string {
	b, err := os.ReadFile(e.Path("/proc/sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Expect texts: what status shows for each step.
const (
	ExpectArmed = "descriptor override armed for the next boot: shut down (do not reboot), power on, then run the same install again"
	ExpectSMIs  = "SMIs disabled by dell_flash_unlock for the write: the install (or 'libreflash restore') runs the tool again to enable them"
)

// ArmedError: the override is armed; shut down, power on, run again.
type ArmedError struct {
	// Again: armed in this boot by an earlier run; the tool was not run.
	Again bool
}

func (e *ArmedError) Error() string {
	if e.Again {
		return "the descriptor override is already armed for the next boot: shut down (do not reboot), power on, then run the same command again"
	}
	return "dell_flash_unlock armed the descriptor override for the next boot: shut down (do not reboot), power on, then run the same command again"
}

// ExitCode implements exitcode.Coder.
func (e *ArmedError) ExitCode() int { return exitcode.Reboot }

// Hint implements exitcode.Hinter.
func (e *ArmedError) Hint() string {
	return "a reboot does not work: the EC sets the override only across a full power cycle; some models power on by themselves after the shut down"
}

// RebootedError: the machine was rebooted instead of shut down.
type RebootedError struct{}

func (e *RebootedError) Error() string {
	return "the descriptor override is not in effect: the machine was rebooted instead of shut down after the unlock tool armed it; nothing was written"
}

// ExitCode implements exitcode.Coder.
func (e *RebootedError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *RebootedError) Hint() string {
	return "run the same command again to arm it again, then shut down (do not reboot) and power on"
}

// InEffect reads, from the lock registers, whether a Dell entry's change
// is in effect now (restore.Manager.InEffect, for status): the override
// strap for dell-override-armed (in effect once the machine was shut down
// and powered on: the next install disables SMIs), GBL_SMI_EN clear for
// dell-smis-disabled. The machine (env()) is looked at only when there is
// such an entry.
func InEffect(env func() *preflight.Env) map[string]func(*restore.Entry) (bool, bool) {
	return map[string]func(*restore.Entry) (bool, bool){
		restore.ActionDellOverride: func(*restore.Entry) (bool, bool) {
			ls := preflight.ReadLockState(env())
			return ls.DescriptorUnlocked(), ls.HSFSKnown
		},
		restore.ActionDellSMIs: func(*restore.Entry) (bool, bool) {
			ls := preflight.ReadLockState(env())
			return !ls.GblSMIEn, ls.SMIEnKnown
		},
	}
}

// Undoer is restore's undo of a dell-smis-disabled entry: run the tool
// again when SMIs are (or may be) disabled, and read that it enabled
// them. With SMIs enabled already, the tool is not run (it would disable
// them again).
func Undoer(env *preflight.Env, timeout time.Duration, log io.Writer) restore.Undoer {
	return func(ctx context.Context, e *restore.Entry) error {
		if ls := preflight.ReadLockState(env); ls.SMIEnKnown && ls.GblSMIEn {
			return nil
		}
		if len(e.Undo) == 0 {
			return errors.New("the journal entry names no unlock tool")
		}
		// The journal's host path, under the machine's root ("/" on a
		// real machine, a fixture in tests).
		tool, err := Find(FindOptions{Explicit: env.Path(e.Undo[0].Tool)})
		if err != nil {
			return err
		}
		for try := 0; try < 2; try++ {
			r, err := tool.Run(ctx, RunOptions{Log: log, Timeout: timeout})
			if err != nil {
				return err
			}
			switch r.Outcome {
			case SMIsEnabled, Unlocked:
				return nil
			case SMIsDisabled:
				continue // they were on after all; this run turned them off: once more
			}
			return &RunError{Tool: tool.Path, Kind: KindUnrecognised, Output: r.Output}
		}
		return errors.New("the unlock tool did not enable SMIs")
	}
}
