package unlock

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
	"libreflash/internal/runner"
	"libreflash/internal/unlock/unlocktest"
)

type machine = unlocktest.Machine

func newMachine(t *testing.T) *machine {
	return unlocktest.New(t, filepath.Join("..", "preflight", "testdata", "latitude-e6400-dell-bios"))
}

func journal(m *machine) *restore.Manager {
	j := restore.New(m.Env.Root, m.State)
	j.Undoers = map[string]restore.Undoer{restore.ActionDellSMIs: Undoer(m.Env, 0, nil)}
	return j
}

func advance(m *machine) (*Disabled, error) {
	c := &Cycle{Env: m.Env, Journal: journal(m), Find: FindOptions{Explicit: m.Tool}}
	return c.Advance(context.Background(), preflight.ReadLockState(m.Env))
}

func pending(t *testing.T, m *machine) []string {
	j, err := journal(m).Journal()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range j.Entries {
		out = append(out, e.Action+"/"+e.State)
	}
	return out
}
func codeOfErr(err error) int {
	var c exitcode.Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return -1
}

// The whole cycle across boots, including the user who reboots instead of
// shutting down, and the undo that enables SMIs again.
func TestCycle(t *testing.T) {
	m := newMachine(t)

	_, err := advance(m)
	var ae *ArmedError
	if !errors.As(err, &ae) || ae.Again || codeOfErr(err) != exitcode.Reboot ||
		!strings.Contains(err.Error(), "shut down (do not reboot), power on, then run the same command again") {
		t.Fatalf("first run: %v", err)
	}
	if p := pending(t, m); len(p) != 1 || p[0] != "dell-override-armed/applied" {
		t.Fatalf("journal after arming: %v", p)
	}
	// The same command again in the same boot: nothing runs, same advice.
	if _, err := advance(m); !errors.As(err, &ae) || !ae.Again || m.Runs() != 1 {
		t.Fatalf("again in the same boot: %v (tool runs %d)", err, m.Runs())
	}

	// Rebooted instead of shut down: said exactly, exit 3, journal clean.
	m.Reboot()
	_, err = advance(m)
	var re *RebootedError
	if !errors.As(err, &re) || codeOfErr(err) != exitcode.Blocked || !strings.Contains(err.Error(), "rebooted instead of shut down") {
		t.Fatalf("after a reboot: %v", err)
	}
	if p := pending(t, m); len(p) != 0 || m.Runs() != 1 {
		t.Fatalf("journal after the reboot: %v, runs %d", p, m.Runs())
	}

	// Arm again, shut down, power on: SMIs disabled, journaled.
	if _, err := advance(m); !errors.As(err, &ae) {
		t.Fatalf("re-arm: %v", err)
	}
	m.ShutDown()
	d, err := advance(m)
	if err != nil || d.Outcome != SMIsDisabled || m.Get("smi") != "0" {
		t.Fatalf("second run: %+v %v (smi=%s)", d, err, m.Get("smi"))
	}
	if p := pending(t, m); len(p) != 1 || p[0] != "dell-smis-disabled/applied" {
		t.Fatalf("journal with SMIs disabled: %v", p)
	}
	st, err := journal(m).Status()
	if err != nil || len(st.Pending) != 1 || st.Pending[0].Expect != ExpectSMIs {
		t.Errorf("status: %+v %v", st, err)
	}

	// Restore runs the tool once more: SMIs enabled, journal empty.
	runs := m.Runs()
	res, err := journal(m).Restore(context.Background())
	if err != nil || len(res.Undone) != 1 || m.Get("smi") != "1" || m.Runs() != runs+1 {
		t.Fatalf("restore: %+v %v (smi=%s)", res, err, m.Get("smi"))
	}
	if p := pending(t, m); len(p) != 0 {
		t.Errorf("journal after restore: %v", p)
	}
}

// The Undoer does not run the tool when SMIs are already enabled: the tool
// would disable them.
func TestUndoerLeavesEnabledSMIs(t *testing.T) {
	m := newMachine(t)
	m.Write("fdo=1\nsmi=1\n")
	e := &restore.Entry{Action: restore.ActionDellSMIs, Undo: []restore.Command{{Tool: m.Tool}}}
	if err := Undoer(m.Env, 0, nil)(context.Background(), e); err != nil || m.Runs() != 0 || m.Get("smi") != "1" {
		t.Errorf("undo with SMIs on: %v, runs %d, smi=%s", err, m.Runs(), m.Get("smi"))
	}
}

// status's in_effect for the Dell entries comes from the registers.
func TestInEffect(t *testing.T) {
	m := newMachine(t)
	probe := InEffect(func() *preflight.Env { return m.Env })
	for _, c := range []struct {
		regs           string
		override, smis bool
	}{
		{"fdo=0\nsmi=1\n", false, false}, // armed, not yet power-cycled
		{"fdo=1\nsmi=1\n", true, false},  // the strap is set: the SMI step is due
		{"fdo=1\nsmi=0\n", true, true},   // SMIs disabled for the write
	} {
		m.Write(c.regs)
		o, ok1 := probe[restore.ActionDellOverride](nil)
		s, ok2 := probe[restore.ActionDellSMIs](nil)
		if !ok1 || !ok2 || o != c.override || s != c.smis {
			t.Errorf("%q: override in effect %v (%v), SMIs disabled %v (%v); want %v, %v", c.regs, o, ok1, s, ok2, c.override, c.smis)
		}
	}
}

// A tool that hangs on the SMI step is stopped; GBL_SMI_EN still reads 1,
// so nothing is lowered and the journal is empty again.
func TestCycleHang(t *testing.T) {
	m := newMachine(t)
	m.Write("fdo=1\nsmi=1\nhang=1\n")
	c := &Cycle{Env: m.Env, Journal: journal(m), Find: FindOptions{Explicit: m.Tool}, Timeout: 300e6}
	_, err := c.Advance(context.Background(), preflight.ReadLockState(m.Env))
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindTimeout || codeOfErr(err) != exitcode.Blocked {
		t.Fatalf("hang: %v", err)
	}
	if p := pending(t, m); len(p) != 0 || m.Get("smi") != "1" {
		t.Errorf("after the hang: journal %v, smi=%s", p, m.Get("smi"))
	}
}

// ^C while the tool hangs (where a user presses it): the tool is stopped,
// the run ends as cancelled (exit 130), and with GBL_SMI_EN still set the
// journal keeps nothing; on the arming step the armed entry goes too.
func TestCycleCancelled(t *testing.T) {
	for _, regs := range []string{"fdo=1\nsmi=1\nhang=1\n", "fdo=0\nsmi=1\nhang=1\n"} {
		m := newMachine(t)
		m.Write(regs)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel) // the ^C
		c := &Cycle{Env: m.Env, Journal: journal(m), Find: FindOptions{Explicit: m.Tool}}
		start := time.Now()
		_, err := c.Advance(ctx, preflight.ReadLockState(m.Env))
		cancel()
		var ce *runner.CancelledError
		if !errors.As(err, &ce) || codeOfErr(err) != exitcode.Cancelled {
			t.Fatalf("%q: ^C during the tool: %v (exit %d), want cancelled (130)", regs, err, codeOfErr(err))
		}
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("%q: the hung tool kept the run for %s", regs, d)
		}
		if p := pending(t, m); len(p) != 0 || m.Get("smi") != "1" {
			t.Errorf("%q: after ^C: journal %v, smi=%s", regs, p, m.Get("smi"))
		}
	}
}

// A missing tool stops the cycle before anything is journaled.
func TestCycleMissingTool(t *testing.T) {
	m := newMachine(t)
	c := &Cycle{Env: m.Env, Journal: journal(m), Find: FindOptions{Explicit: filepath.Join(t.TempDir(), "dell_flash_unlock")}}
	_, err := c.Advance(context.Background(), preflight.ReadLockState(m.Env))
	var me *MissingError
	if !errors.As(err, &me) || codeOfErr(err) != exitcode.Blocked {
		t.Fatalf("missing tool: %v", err)
	}
	if p := pending(t, m); len(p) != 0 {
		t.Errorf("journal: %v", p)
	}
}
