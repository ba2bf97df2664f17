// Package unlocktest is a Dell Latitude for tests of the unlock cycle: a
// preflight fixture machine whose lock registers (descriptor-override
// strap, GBL_SMI_EN) live in a file that a stand-in dell_flash_unlock
// changes the way the real tool changes the chipset, printing the real
// tool's messages (dell_flash_unlock.c, upstream nic3-14159/dell-flash-unlock).
// Power cycles are the test's: ShutDown applies an armed override, Reboot
// does not. Only tests import it.
package unlocktest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

// Machine is a Latitude E6400 fixture whose lock registers live in a file
// that a stand-in dell_flash_unlock changes as the real tool changes the
// chipset: "fdo" (override strap in effect), "smi" (GBL_SMI_EN), "armed"
// (the EC will pull the strap at the next power-on). Power cycles are the
// test's: shutDown applies an armed override, reboot does not.
type Machine struct {
	t     *testing.T
	Env   *preflight.Env
	regs  string
	runs  string // one line per tool run
	Tool  string
	State string
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

func New(t *testing.T, fixture string) *Machine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the stand-in tool must be root's; these tests run as root")
	}
	src := fixture
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	env, err := preflighttest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The tool where an admin installs it, under the machine's root.
	bin := filepath.Join(env.Root, "usr/local/sbin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := bin; d != filepath.Dir(env.Root); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	m := &Machine{t: t, Env: env, regs: filepath.Join(dir, "regs"), runs: filepath.Join(dir, "runs"),
		Tool: filepath.Join(bin, "dell_flash_unlock"), State: filepath.Join(dir, "state")}
	m.Write("fdo=0\nsmi=1\n")
	script := strings.NewReplacer("%REGS%", m.regs, "%RUNS%", m.runs).Replace(standInScript)
	if err := os.WriteFile(m.Tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env.ReadPhys32 = func(string, uint64) (uint32, error) {
		if m.Get("fdo") == "1" {
			return 0x4000, nil // FDV=1 FDOPSS=0
		}
		return 0x6000, nil
	}
	env.InL = func(uint16) (uint32, error) {
		if m.Get("smi") == "1" {
			return 3, nil
		}
		return 2, nil
	}
	m.PowerOn()
	return m
}

func (m *Machine) Write(s string) {
	if err := os.WriteFile(m.regs, []byte(s), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// get reads the last assignment of key (the stand-in appends).
func (m *Machine) Get(key string) string {
	b, _ := os.ReadFile(m.regs)
	v := ""
	for _, l := range strings.Split(string(b), "\n") {
		if k, val, ok := strings.Cut(l, "="); ok && k == key {
			v = val
		}
	}
	return v
}

func (m *Machine) PowerOn() {
	m.boot++
	p := m.Env.Path("/proc/sys/kernel/random/boot_id")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("boot-"+string(rune('0'+m.boot))+"\n"), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

// ShutDown and power on: the EC applies an armed override; SMIs come back.
func (m *Machine) ShutDown() {
	fdo := "0"
	if m.Get("armed") == "1" {
		fdo = "1"
	}
	m.Write("fdo=" + fdo + "\nsmi=1\n")
	m.PowerOn()
}

// Reboot: no power cycle, so the EC does not pull the strap.
func (m *Machine) Reboot() {
	m.Write("fdo=0\nsmi=1\narmed=" + m.Get("armed") + "\n")
	m.PowerOn()
}

func (m *Machine) Runs() int {
	b, _ := os.ReadFile(m.runs)
	return strings.Count(string(b), "run")
}
