package unlock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
	"libreflash/internal/restore"
)

// machine is a Latitude E6400 fixture whose lock registers live in a file
// that a stand-in dell_flash_unlock changes as the real tool changes the
// chipset: "fdo" (override strap in effect), "smi" (GBL_SMI_EN), "armed"
// (the EC will pull the strap at the next power-on). Power cycles are the
// test's: shutDown applies an armed override, reboot does not.
type machine struct {
	t     *testing.T
	env   *preflight.Env
	regs  string
	runs  string // one line per tool run
	tool  string
	state string
	boot  int
}

// The stand-in does what dell_flash_unlock does, by the registers, and
// prints its messages.
const standInScript = `#!/bin/sh
regs=%REGS%
echo run >> %RUNS%
. $regs
if [ "$hang" = 1 ]; then sleep 60; fi
if [ "$fdo" != 1 ]; then
  echo armed=1 >> $regs
  printf 'Sending FDO override command to EC:\nFlash Descriptor Override enabled.\nShut down (don'"'"'t reboot) now.\n\nThe EC may auto-boot on some systems; if not then manually power on.\n When the system boots rerun this utility to finish unlocking.\n'
elif [ "$smi" = 1 ]; then
  echo smi=0 >> $regs
  printf 'SMIs disabled. Internal flashing should work now.\n After flashing, re-run this utility to enable SMIs.\n (shutdown is buggy when SMIs are disabled)\n'
else
  echo smi=1 >> $regs
  printf 'SMIs enabled.\nYou can now shutdown the system.\n'
fi
`

func newMachine(t *testing.T) *machine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the stand-in tool must be root's; these tests run as root")
	}
	src := filepath.Join("..", "preflight", "testdata", "latitude-e6400-dell-bios")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	env, err := preflighttest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	m := &machine{t: t, env: env, regs: filepath.Join(dir, "regs"), runs: filepath.Join(dir, "runs"),
		tool: filepath.Join(bin, "dell_flash_unlock"), state: filepath.Join(dir, "state")}
	m.write("fdo=0\nsmi=1\n")
	script := strings.NewReplacer("%REGS%", m.regs, "%RUNS%", m.runs).Replace(standInScript)
	if err := os.WriteFile(m.tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env.ReadPhys32 = func(string, uint64) (uint32, error) {
		if m.get("fdo") == "1" {
			return 0x4000, nil // FDV=1 FDOPSS=0
		}
		return 0x6000, nil
	}
	env.InL = func(uint16) (uint32, error) {
		if m.get("smi") == "1" {
			return 3, nil
		}
		return 2, nil
	}
	m.powerOn()
	return m
}

func (m *machine) write(s string) {
	if err := os.WriteFile(m.regs, []byte(s), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// get reads the last assignment of key (the stand-in appends).
func (m *machine) get(key string) string {
	b, _ := os.ReadFile(m.regs)
	v := ""
	for _, l := range strings.Split(string(b), "\n") {
		if k, val, ok := strings.Cut(l, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func (m *machine) powerOn() {
	m.boot++
	p := m.env.Path("/proc/sys/kernel/random/boot_id")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("boot-"+string(rune('0'+m.boot))+"\n"), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// shutDown and powerOn: the EC applies an armed override; SMIs come back.
func (m *machine) shutDown() {
	fdo := "0"
	if m.get("armed") == "1" {
		fdo = "1"
	}
	m.write("fdo=" + fdo + "\nsmi=1\n")
	m.powerOn()
}

// reboot: no power cycle, so the EC does not pull the strap.
func (m *machine) reboot() {
	m.write("fdo=0\nsmi=1\narmed=" + m.get("armed") + "\n")
	m.powerOn()
}

func (m *machine) runCount() int {
	b, _ := os.ReadFile(m.runs)
	return strings.Count(string(b), "run")
}

func (m *machine) journal() *restore.Manager {
	j := restore.New(m.env.Root, m.state)
	j.Undoers = map[string]restore.Undoer{restore.ActionDellSMIs: Undoer(m.env, 0, nil)}
	return j
}

func (m *machine) advance() (*Disabled, error) {
	c := &Cycle{Env: m.env, Journal: m.journal(), Find: FindOptions{Explicit: m.tool}}
	return c.Advance(context.Background(), preflight.ReadLockState(m.env))
}

func (m *machine) pending() []string {
	j, err := m.journal().Journal()
	if err != nil {
		m.t.Fatal(err)
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

	_, err := m.advance()
	var ae *ArmedError
	if !errors.As(err, &ae) || ae.Again || codeOfErr(err) != exitcode.Reboot ||
		!strings.Contains(err.Error(), "shut down (do not reboot), power on, then run the same command again") {
		t.Fatalf("first run: %v", err)
	}
	if p := m.pending(); len(p) != 1 || p[0] != "dell-override-armed/applied" {
		t.Fatalf("journal after arming: %v", p)
	}
	// The same command again in the same boot: nothing runs, same advice.
	if _, err := m.advance(); !errors.As(err, &ae) || !ae.Again || m.runCount() != 1 {
		t.Fatalf("again in the same boot: %v (tool runs %d)", err, m.runCount())
	}

	// Rebooted instead of shut down: said exactly, exit 3, journal clean.
	m.reboot()
	_, err = m.advance()
	var re *RebootedError
	if !errors.As(err, &re) || codeOfErr(err) != exitcode.Blocked || !strings.Contains(err.Error(), "rebooted instead of shut down") {
		t.Fatalf("after a reboot: %v", err)
	}
	if p := m.pending(); len(p) != 0 || m.runCount() != 1 {
		t.Fatalf("journal after the reboot: %v, runs %d", p, m.runCount())
	}

	// Arm again, shut down, power on: SMIs disabled, journaled.
	if _, err := m.advance(); !errors.As(err, &ae) {
		t.Fatalf("re-arm: %v", err)
	}
	m.shutDown()
	d, err := m.advance()
	if err != nil || d.Outcome != SMIsDisabled || m.get("smi") != "0" {
		t.Fatalf("second run: %+v %v (smi=%s)", d, err, m.get("smi"))
	}
	if p := m.pending(); len(p) != 1 || p[0] != "dell-smis-disabled/applied" {
		t.Fatalf("journal with SMIs disabled: %v", p)
	}
	st, err := m.journal().Status()
	if err != nil || len(st.Pending) != 1 || st.Pending[0].Expect != ExpectSMIs {
		t.Errorf("status: %+v %v", st, err)
	}

	// Restore runs the tool once more: SMIs enabled, journal empty.
	runs := m.runCount()
	res, err := m.journal().Restore(context.Background())
	if err != nil || len(res.Undone) != 1 || m.get("smi") != "1" || m.runCount() != runs+1 {
		t.Fatalf("restore: %+v %v (smi=%s)", res, err, m.get("smi"))
	}
	if p := m.pending(); len(p) != 0 {
		t.Errorf("journal after restore: %v", p)
	}
}

// The Undoer does not run the tool when SMIs are already enabled: the tool
// would disable them.
func TestUndoerLeavesEnabledSMIs(t *testing.T) {
	m := newMachine(t)
	m.write("fdo=1\nsmi=1\n")
	e := &restore.Entry{Action: restore.ActionDellSMIs, Undo: []restore.Command{{Tool: m.tool}}}
	if err := Undoer(m.env, 0, nil)(context.Background(), e); err != nil || m.runCount() != 0 || m.get("smi") != "1" {
		t.Errorf("undo with SMIs on: %v, runs %d, smi=%s", err, m.runCount(), m.get("smi"))
	}
}

// A tool that hangs on the SMI step is stopped; GBL_SMI_EN still reads 1,
// so nothing is lowered and the journal is empty again.
func TestCycleHang(t *testing.T) {
	m := newMachine(t)
	m.write("fdo=1\nsmi=1\nhang=1\n")
	c := &Cycle{Env: m.env, Journal: m.journal(), Find: FindOptions{Explicit: m.tool}, Timeout: 300e6}
	_, err := c.Advance(context.Background(), preflight.ReadLockState(m.env))
	var re *RunError
	if !errors.As(err, &re) || re.Kind != KindTimeout || codeOfErr(err) != exitcode.Blocked {
		t.Fatalf("hang: %v", err)
	}
	if p := m.pending(); len(p) != 0 || m.get("smi") != "1" {
		t.Errorf("after the hang: journal %v, smi=%s", p, m.get("smi"))
	}
}

// A missing tool stops the cycle before anything is journaled.
func TestCycleMissingTool(t *testing.T) {
	m := newMachine(t)
	c := &Cycle{Env: m.env, Journal: m.journal(), Find: FindOptions{Explicit: filepath.Join(t.TempDir(), "dell_flash_unlock")}}
	_, err := c.Advance(context.Background(), preflight.ReadLockState(m.env))
	var me *MissingError
	if !errors.As(err, &me) || codeOfErr(err) != exitcode.Blocked {
		t.Fatalf("missing tool: %v", err)
	}
	if p := m.pending(); len(p) != 0 {
		t.Errorf("journal: %v", p)
	}
}
