package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"libreflash/internal/statedir"
)

// Issue 13 item 4: one chip, two state directories. Another run holding
// the chip (through another state directory) blocks this one before it
// touches the chip.
func TestInstallRefusedWhileChipLocked(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	other, err := statedir.ChipLock(r.opts.Env.Path(statedir.RunDir), r.opts.Programmer)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	s, err := r.install(t)
	var busy *statedir.BusyError
	if !errors.As(err, &busy) || busy.What != "the flash chip" || exitOf(err) != 3 {
		t.Fatalf("install while the chip is locked: %v (exit %d)", err, exitOf(err))
	}
	if s.Result != ResultBlocked || !sameFile(t, r.chip, factory) {
		t.Errorf("result %s; chip changed: %v", s.Result, !sameFile(t, r.chip, factory))
	}
}

// Issue 13: the plan says whether logind holds off sleep and shutdown; on
// a root without a system bus, it says why it does not.
func TestPlanSaysInhibitor(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	if _, err := r.install(t); err != nil {
		t.Fatal(err)
	}
	var plan *Plan
	r.ev.mu.Lock()
	for _, e := range r.ev.all {
		if p, ok := e.Data.(*Plan); ok {
			plan = p
		}
	}
	r.ev.mu.Unlock()
	if plan == nil || !strings.Contains(plan.Inhibitor, "no system bus") {
		t.Fatalf("plan inhibitor: %+v", plan)
	}
}

// Issue 13 item 3: while the flasher writes, it holds the state and chip
// locks (inherited) and its pid is recorded in them, so another run is
// refused naming it; once it has exited the record is cleared.
func TestFlasherRecordedInLocks(t *testing.T) {
	t.Parallel()
	rom, chip := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, chip)
	var during error
	var inherited int
	r.f.onWrite = func(f *fakeFlasher, _ int, w WriteOp, o IO) error {
		inherited = len(o.Inherit)
		child := exec.Command("sleep", "30")
		if err := child.Start(); err != nil {
			return err
		}
		defer func() { child.Process.Kill(); child.Wait() }()
		o.OnStart(child.Process.Pid)
		_, during = statedir.Acquire(r.opts.StateDir)
		var busy *statedir.BusyError
		if errors.As(during, &busy) && busy.FlasherPID != child.Process.Pid {
			during = fmt.Errorf("busy names pid %d, not the flasher's %d", busy.FlasherPID, child.Process.Pid)
		}
		return f.copyIn(w, o, -1)
	}
	if _, err := r.install(t, context.Background()); err != nil {
		t.Fatal(err)
	}
	var busy *statedir.BusyError
	if !errors.As(during, &busy) || busy.FlasherPID == 0 {
		t.Errorf("a second run while the flasher writes: %v", during)
	}
	if inherited != 2 {
		t.Errorf("the flasher inherits %d locks, want the state directory's and the chip's", inherited)
	}
	h, err := statedir.Acquire(r.opts.StateDir)
	if err != nil {
		t.Fatalf("after the run: %v", err)
	}
	h.Unlock()
}
