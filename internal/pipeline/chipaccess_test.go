package pipeline

import (
	"errors"
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
