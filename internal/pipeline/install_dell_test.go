package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/exitcode"
	"libreflash/internal/restore"
	"libreflash/internal/runner"
	"libreflash/internal/unlock"
	"libreflash/internal/unlock/unlocktest"
)

const e6400Config = `CONFIG_VENDOR_DELL=y
CONFIG_BOARD_DELL_E6400=y
CONFIG_MAINBOARD_VENDOR="Dell Inc."
CONFIG_MAINBOARD_PART_NUMBER="Latitude E6400"`

// internalAsDummy is a flasher for the Dell cycle's tests: the cycle only
// runs for -p internal, so this wrapper turns -p internal into real
// flashrom's dummy programmer on chip (never the host's chipset), and the
// test binary's guard lets exactly this wrapper through. fragment runs
// first on the first write (-w), as firstWriteWrapper's do.
func internalAsDummy(t *testing.T, chip, fragment string) string {
	t.Helper()
	needFlashrom(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "flashrom-internal-as-dummy")
	script := `#!/bin/sh
mark="$(dirname "$0")/done"
for a; do
	shift
	case $a in internal) a="dummy:emulate=SST25VF032B,image=` + chip + `" ;; esac
	set -- "$@" "$a"
done
case " $* " in
*" -w "*)
	if [ ! -e "$mark" ]; then
		: > "$mark"
		` + fragment + `
	fi
	;;
esac
exec ` + testFlashrom + ` "$@"
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	saved := runner.Guard
	runner.Guard = func(argv []string) error {
		if argv[0] == p {
			return nil
		}
		return saved(argv)
	}
	t.Cleanup(func() { runner.Guard = saved })
	return p
}

type dellRun struct {
	m     *unlocktest.Machine
	opts  InstallOptions
	ev    *events
	chip  string
	state string
}

func newDellRun(t *testing.T, fragment string) *dellRun {
	m := unlocktest.New(t, repoFile("internal", "preflight", "testdata", "latitude-e6400-dell-bios"))
	chip := chipFile(t, mkrom(t, "factory", size4M))
	state := filepath.Join(t.TempDir(), "state")
	d := &dellRun{m: m, chip: chip, state: state}
	d.opts = InstallOptions{ROM: mkrom(t, "rom", size4M, strings.Split(e6400Config, "\n")...),
		FlasherPath: internalAsDummy(t, chip, fragment), StateDir: state, Env: m.Env, UnlockTool: m.Tool}
	return d
}

func (d *dellRun) install(t *testing.T) (*Summary, error) {
	t.Helper()
	d.ev = &events{}
	d.opts.Emit = d.ev.sink
	d.opts.Env.FindFlasher = runner.Find
	s, err := Install(context.Background(), d.opts)
	if t.Failed() || testing.Verbose() {
		t.Logf("stages: %v", d.ev.stages())
	}
	return s, err
}

// wantUnlocks: this run's unlock events, in order.
func (d *dellRun) wantUnlocks(t *testing.T, want ...unlock.Outcome) {
	t.Helper()
	var got []unlock.Outcome
	for _, p := range d.ev.payloads(TypeUnlock) {
		u := p.(*Unlock)
		if u.Tool != d.m.Tool || u.Exit != 0 {
			t.Errorf("unlock event %+v: want tool %s, exit 0", u, d.m.Tool)
		}
		got = append(got, unlock.Outcome(u.Outcome))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("unlock events %v, want %v", got, want)
	}
}

func (d *dellRun) journal(t *testing.T) []string {
	j, err := restore.New(d.opts.Env.Root, d.state).Journal()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range j.Entries {
		out = append(out, e.Action)
	}
	return out
}

// issue 15: on a Latitude E6400 with Dell's BIOS, install carries the user
// through the unlock cycle across boots and enables SMIs after the write.
func TestDellCycleInstall(t *testing.T) {
	d := newDellRun(t, "")
	s, err := d.install(t)
	if exitOf(err) != exitcode.Reboot || s.Result != ResultPrepared || len(s.Next) < 2 || s.Next[0].ID != NextShutDown ||
		!strings.Contains(err.Error(), "shut down (do not reboot), power on, then run the same command again") {
		t.Fatalf("first run: %v, %+v", err, s)
	}
	if j := d.journal(t); len(j) != 1 || j[0] != restore.ActionDellOverride {
		t.Fatalf("journal after arming: %v", j)
	}
	if s.ChipReads != 0 || s.FlasherRuns != 0 {
		t.Errorf("the chip was touched before the unlock: %+v", s)
	}
	d.wantUnlocks(t, unlock.OverrideArmed)
	// The board check fails, and the unlock stage (not the manual steps)
	// is what fixes it.
	if c := d.ev.check("board"); c == nil || c.Status != "fail" || c.Fix != "" {
		t.Errorf("board check before the unlock: %+v", c)
	}

	d.m.ShutDown()
	s, err = d.install(t)
	if err != nil {
		t.Fatalf("second run: %v (hint %q)", err, s.Hint)
	}
	if !sameFile(t, d.chip, d.opts.ROM) {
		t.Error("the chip does not hold the ROM")
	}
	if d.m.Get("smi") != "1" {
		t.Error("SMIs were not enabled again after the verified write")
	}
	if j := d.journal(t); len(j) != 0 {
		t.Errorf("journal after the install: %v", j)
	}
	if len(s.Next) == 0 || s.Next[0].ID != NextShutDown {
		t.Errorf("after the write, next is %+v; want shut_down first (the tool's last word)", s.Next)
	}
	d.wantUnlocks(t, unlock.SMIsDisabled)
	if p, ok := d.ev.first(TypePlan).(*Plan); !ok || len(p.Steps) == 0 || p.Steps[len(p.Steps)-1] != StepEnableSMIs {
		t.Errorf("plan %+v: want enable_smis as the last step", d.ev.first(TypePlan))
	}
	// The checks run again after the unlock; only the board check changed.
	var boards []string
	for _, p := range d.ev.payloads(TypeCheck) {
		if c := p.(*Check); c.Source == SourceMachine {
			boards = append(boards, c.ID+":"+c.Status)
		}
	}
	if n := len(boards); n < 2 || boards[n-1] != "board:pass" || strings.Count(strings.Join(boards, " "), "board:") != 2 {
		t.Errorf("machine checks: %v; want each once, then board:pass after the unlock", boards)
	}
	stages := strings.Join(d.ev.stages(), " ")
	for _, want := range []string{"unlock:start unlock:ok", "write:ok", "restore:ok"} {
		if !strings.Contains(stages, want) {
			t.Errorf("stages %s lack %s", stages, want)
		}
	}
	if r, ok := d.ev.first(TypeRestore).(*Restore); !ok || len(r.Undone) == 0 ||
		!strings.Contains(r.Undone[len(r.Undone)-1].Summary, "enabled SMIs again") {
		t.Errorf("restore event %+v", d.ev.first(TypeRestore))
	}
}

// A write that fails, leaving the chip in a known state (unchanged or
// rolled back), enables SMIs again too.
func TestDellCycleWriteFails(t *testing.T) {
	d := newDellRun(t, `echo "Erasing and writing flash chip... FAILED!" ; exit 1`)
	d.m.Write("fdo=1\nsmi=1\n") // powered on after arming
	s, err := d.install(t)
	if exitOf(err) != exitcode.Unchanged || (s.Result != ResultUnchanged && s.Result != ResultRolledBack) {
		t.Fatalf("got %v, %+v; want unchanged or rolled back (exit 4)", err, s)
	}
	if d.m.Get("smi") != "1" {
		t.Error("SMIs stayed disabled after a failed write with the chip unchanged")
	}
	if j := d.journal(t); len(j) != 0 {
		t.Errorf("journal: %v", j)
	}
}

// Faults before any write: each a clear error, exit 3, nothing written,
// nothing left lowered, the journal consistent.
func TestDellCycleFaults(t *testing.T) {
	t.Run("rebooted instead of shut down", func(t *testing.T) {
		d := newDellRun(t, "")
		if _, err := d.install(t); exitOf(err) != exitcode.Reboot {
			t.Fatalf("arm: %v", err)
		}
		d.m.Reboot()
		s, err := d.install(t)
		if exitOf(err) != exitcode.Blocked || !strings.Contains(err.Error(), "rebooted instead of shut down") {
			t.Fatalf("got %v, %+v", err, s)
		}
		if j := d.journal(t); len(j) != 0 || s.ChipReads != 0 {
			t.Errorf("journal %v, reads %d", j, s.ChipReads)
		}
	})
	t.Run("tool hangs", func(t *testing.T) {
		d := newDellRun(t, "")
		d.m.Write("fdo=1\nsmi=1\nhang=1\n")
		d.opts.UnlockTimeout = 300e6
		s, err := d.install(t)
		if exitOf(err) != exitcode.Blocked || !strings.Contains(err.Error(), "did not finish within 300ms") {
			t.Fatalf("got %v, %+v", err, s)
		}
		if j := d.journal(t); len(j) != 0 || d.m.Get("smi") != "1" || s.ChipReads != 0 {
			t.Errorf("journal %v, smi=%s, reads %d", j, d.m.Get("smi"), s.ChipReads)
		}
	})
	t.Run("tool missing", func(t *testing.T) {
		d := newDellRun(t, "")
		d.opts.UnlockTool = filepath.Join(t.TempDir(), "dell_flash_unlock")
		s, err := d.install(t)
		if exitOf(err) != exitcode.Blocked || !strings.Contains(err.Error(), "dell_flash_unlock") || !strings.Contains(s.Hint, "util/dell-flash-unlock") {
			t.Fatalf("got %v, %+v", err, s)
		}
	})
	t.Run("failure before the write", func(t *testing.T) {
		// SMIs disabled, then the plan fails (the image is for another
		// board): SMIs are enabled again.
		d := newDellRun(t, "")
		d.m.Write("fdo=1\nsmi=1\n")
		d.opts.ROM = x200ROM(t, size4M)
		s, err := d.install(t)
		if exitOf(err) != exitcode.Blocked {
			t.Fatalf("got %v, %+v", err, s)
		}
		if j := d.journal(t); len(j) != 0 || d.m.Get("smi") != "1" {
			t.Errorf("journal %v, smi=%s after a failure before the write", j, d.m.Get("smi"))
		}
	})
	t.Run("not a Dell", func(t *testing.T) {
		d := newDellRun(t, "")
		d.opts.Env = fixture(t, "x200-lenovo-bios")
		s, err := d.install(t)
		if exitOf(err) != exitcode.Blocked || !strings.Contains(err.Error(), "--unlock-tool") ||
			!strings.Contains(err.Error(), "not on the Dell unlock route") || d.m.Runs() != 0 {
			t.Fatalf("got %v, %+v, tool runs %d", err, s, d.m.Runs())
		}
	})
}
