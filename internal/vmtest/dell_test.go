//go:build linux

package vmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/exitcode"
)

// issue 15: the Dell Latitude unlock cycle on a real kernel, across guest
// boots that keep the state directory and the flash chip on a disk
// (scripts/vmdell.sh). Each guest is a q35 (ICH9) with a Latitude E6400's
// SMBIOS identity; internal/vmtest/dellfake sets its registers as Dell's
// BIOS does at power-on and stands in for dell_flash_unlock and the EC.
// libreflash reads the real emulated registers through the real kernel
// (HSFS through RCBA and /dev/mem, SMI_EN by port read, BIOS_CNTL and
// GEN_PMCON_1 from PCI config) and drives the cycle; the flasher is
// Debian's flashrom.
func TestDellGuest(t *testing.T) {
	out := *dellResults
	if out == "" {
		skipUnlessRunnable(t)
		out = t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "../../scripts/vmdell.sh", "--out", out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		cmd.WaitDelay = 10 * time.Second
		log, err := cmd.CombinedOutput()
		t.Logf("scripts/vmdell.sh:\n%s", log)
		if err != nil {
			t.Fatalf("scripts/vmdell.sh: %v", err)
		}
	}
	g := &dellBoot{t: t, out: out}
	factory, rom := g.file("factory.bin"), g.file("e6400.rom")

	t.Run("arm", func(t *testing.T) {
		g := g.boot(t, "arm")
		g.contains("firmware.txt", "cold power-on", "override strap unset")
		// check names the machine and the Dell route, from real registers.
		b := g.check("check.json")
		if b.ID != "board" {
			t.Fatalf("board is not the first check: %+v", b)
		}
		for _, want := range []string{"Dell Latitude E6400", "running Dell Inc. A34", "route dell_unlock", "(locked: the unlock cycle is needed)"} {
			if !strings.Contains(b.Summary, want) {
				t.Errorf("board summary %q lacks %q", b.Summary, want)
			}
		}
		for _, want := range []string{"BIOS_CNTL=0x02 (BLE=1", "HSFS=0x6000 (FDV=1 FDOPSS=1: descriptor override not in effect)",
			"at port 0x630 (GBL_SMI_EN=1)", "SMI_LOCK=0"} {
			if !strings.Contains(b.Detail, want) {
				t.Errorf("board detail %q lacks %q", b.Detail, want)
			}
		}
		if strings.Contains(b.Detail, "not read:") {
			t.Errorf("a lock register could not be read in the guest: %s", b.Detail)
		}
		g.exit("check.json", exitcode.Blocked)
		g.contains("check.txt", "[FAIL] board", "1. Run dell_flash_unlock as root")

		// The first install arms the override: exit 6, shut down.
		g.exit("install.txt", exitcode.Reboot)
		s := g.summary("install.events")
		if s.Result != "prepared" || len(s.Next) == 0 || s.Next[0].ID != "shut_down" || s.FlasherRuns != 0 {
			t.Errorf("first install: %+v", s)
		}
		g.unlocks("install.events", "override_armed")
		g.contains("install.txt", "unlock: dell_flash_unlock armed the descriptor override for the next boot",
			"result:  prepared: shut down (do not reboot), power on, then run the same command again")
		g.pending("dell-override-armed")
		g.contains("status.txt", "dell-override-armed via dell_flash_unlock, applied, not in effect",
			"descriptor override armed for the next boot: shut down (do not reboot)")
		// Again in the same boot: the same answer, the tool not run.
		g.exit("install-again.txt", exitcode.Reboot)
		g.contains("install-again.txt", "already armed for the next boot: shut down (do not reboot)")
		g.unlocks("install-again.events")
		g.smis(true)
		g.chip(factory)
	})

	t.Run("flash", func(t *testing.T) {
		g := g.boot(t, "flash")
		g.contains("firmware.txt", "cold power-on", "override strap set")
		g.contains("status-before.txt", "dell-override-armed via dell_flash_unlock, applied, in effect",
			"the descriptor override is in effect now: run the same install again")
		g.contains("check.txt", "descriptor override in effect, SMIs still enabled: the second unlock run is due")
		g.exit("install.txt", exitcode.OK)
		s := g.summary("install.events")
		if s.Result != "ok" || len(s.Next) == 0 || s.Next[0].ID != "shut_down" {
			t.Errorf("install after the power cycle: %+v; want ok, next shut_down", s)
		}
		g.unlocks("install.events", "smis_disabled")
		g.contains("install.txt", "unlock: dell_flash_unlock disabled SMIs", "[pass] board:",
			"undone: enabled SMIs again (dell_flash_unlock)", "1. shut down (do not reboot)")
		events := g.read("install.events")
		for _, want := range []string{`"stage":"write","status":"ok"`, `"type":"verify","time"`, `"ok":true`, "enabled SMIs again (dell_flash_unlock)"} {
			if !strings.Contains(events, want) {
				t.Errorf("install events lack %s", want)
			}
		}
		g.pending()
		g.smis(true)
		g.chip(rom)
	})

	t.Run("writefail", func(t *testing.T) {
		g := g.boot(t, "writefail")
		g.exit("install.txt", exitcode.Unchanged)
		g.contains("install.txt", "unlock: dell_flash_unlock disabled SMIs", "write: failed",
			"the chip is unchanged", "undone: enabled SMIs again (dell_flash_unlock)")
		g.pending()
		g.smis(true)
		g.chip(factory)
	})

	t.Run("unknown", func(t *testing.T) {
		g := g.boot(t, "unknown")
		g.exit("install.txt", exitcode.Unknown)
		g.contains("install.txt", "rollback: failed", "DO NOT REBOOT OR POWER OFF: the chip is in an unknown state",
			"SMIs stay disabled (dell_flash_unlock): writing the chip needs them off", "run 'sudo libreflash restore' to enable them")
		if s := g.read("install.txt"); strings.Contains(s, "you may reboot") || strings.Contains(s, "undone: enabled SMIs") {
			t.Errorf("an unknown state told to reboot or enabled SMIs:\n%s", s)
		}
		// Left lowered, and the journal says so, for the recovery.
		g.pending("dell-smis-disabled")
		g.smis(false)
	})

	t.Run("nochip", func(t *testing.T) {
		g := g.boot(t, "nochip")
		// Debian's flashrom -p internal really ran on the ICH9.
		g.contains("install.log", "-p internal", `Found chipset "Intel ICH9"`)
		g.exit("install.txt", exitcode.Blocked)
		g.contains("install.txt", "unlock: dell_flash_unlock disabled SMIs", "plan: failed",
			"undone: enabled SMIs again (dell_flash_unlock)", "nothing was touched")
		g.pending()
		g.smis(true)
	})

	t.Run("rebooted", func(t *testing.T) {
		g := g.boot(t, "rebooted")
		g.contains("firmware.txt", "warm power-on", "override strap unset")
		g.exit("install.txt", exitcode.Blocked)
		g.contains("install.txt", "the machine was rebooted instead of shut down", "nothing was written",
			"run the same command again to arm it again")
		g.pending()
		g.smis(true)
		g.chip(factory)
	})

	t.Run("killed", func(t *testing.T) {
		g := g.boot(t, "killed")
		g.exit("install.txt", 128+int(syscall.SIGKILL))
		// The journal says what the killed run left lowered ...
		var st struct {
			Pending []struct {
				Action, Expect string
				InEffect       *bool `json:"in_effect"`
			}
		}
		if err := json.Unmarshal(g.file("status-killed.json"), &st); err != nil {
			t.Fatal(err)
		}
		if len(st.Pending) != 1 || st.Pending[0].Action != "dell-smis-disabled" || st.Pending[0].InEffect == nil || !*st.Pending[0].InEffect {
			t.Errorf("status after the kill: %+v; want dell-smis-disabled pending, in effect (GBL_SMI_EN reads 0)", st.Pending)
		}
		// ... and restore runs the tool to enable SMIs again.
		g.exit("restore.txt", exitcode.OK)
		g.contains("restore.txt", "enabled SMIs again (dell_flash_unlock)")
		g.pending()
		g.smis(true)
		g.chip(factory)
	})

	// The same laptop already running Libreboot: the board check sees
	// coreboot and the direct route, and the install never runs the
	// unlock tool (installed all the same).
	t.Run("coreboot", func(t *testing.T) {
		g := g.boot(t, "coreboot")
		b := g.check("after.json")
		if b.ID != "board" || b.Status != "pass" || !strings.Contains(b.Summary, "running coreboot 25.06: route direct") {
			t.Errorf("board check on coreboot: %+v", b)
		}
		g.exit("install.txt", exitcode.OK)
		s := g.summary("install.events")
		if s.Result != "ok" || len(s.Next) == 0 || s.Next[0].ID != "reboot" {
			t.Errorf("install on coreboot: %+v; want ok, next reboot", s)
		}
		g.unlocks("install.events")
		if strings.Contains(g.read("install.log"), "SMIs") || strings.Contains(g.read("install.txt"), "unlock:") {
			t.Error("the unlock tool ran on a machine running coreboot")
		}
		g.pending()
		g.chip(rom)
	})

	t.Run("noec", func(t *testing.T) {
		g := g.boot(t, "noec")
		g.exit("install.txt", exitcode.Blocked)
		g.contains("install.txt", `the embedded controller did not answer: "Timeout while waiting for EC!"`,
			"nothing was lowered", "nothing was touched")
		g.contains("install.log", "Sending FDO override command to EC:")
		g.pending()
		g.smis(true)
		b := g.check("after.json")
		if !strings.Contains(b.Detail, "FDOPSS=1") {
			t.Errorf("the override strap changed: %s", b.Detail)
		}
		g.chip(factory)
	})
}

var dellResults = flag.String("vmdell.results", "", "assert on the results of an earlier `scripts/vmdell.sh --out DIR` instead of booting")

// dellBoot reads one guest boot's results.
type dellBoot struct {
	t    *testing.T
	out  string
	name string
}

func (g *dellBoot) boot(t *testing.T, name string) *dellBoot {
	return &dellBoot{t: t, out: g.out, name: name}
}

func (g *dellBoot) file(name string) []byte {
	g.t.Helper()
	b, err := os.ReadFile(filepath.Join(g.out, g.name, name))
	if err != nil {
		g.t.Fatal(err)
	}
	return b
}

func (g *dellBoot) read(name string) string { g.t.Helper(); return string(g.file(name)) }

func (g *dellBoot) exit(name string, want int) {
	g.t.Helper()
	rc, err := strconv.Atoi(strings.TrimSpace(g.read(name + ".rc")))
	if err != nil || rc != want {
		g.t.Errorf("%s/%s: exit %s, want %d\n%s", g.name, name, g.read(name+".rc"), want, g.read(name))
	}
}

func (g *dellBoot) contains(name string, want ...string) {
	g.t.Helper()
	s := g.read(name)
	for _, w := range want {
		if !strings.Contains(s, w) {
			g.t.Errorf("%s/%s lacks %q:\n%s", g.name, name, w, s)
		}
	}
}

type dellCheck struct{ ID, Status, Summary, Detail string }

// check is the first check of a check --json output (the board check).
func (g *dellBoot) check(name string) dellCheck {
	g.t.Helper()
	var r struct{ Checks []dellCheck }
	if err := json.Unmarshal(g.file(name), &r); err != nil || len(r.Checks) == 0 {
		g.t.Fatalf("%s/%s: %v\n%s", g.name, name, err, g.read(name))
	}
	return r.Checks[0]
}

type dellSummary struct {
	Result      string
	Exit        int
	FlasherRuns int `json:"flasher_runs"`
	Next        []struct{ ID string }
}

// lines are the JSON event lines of an install --json output.
func (g *dellBoot) lines(name string) []map[string]json.RawMessage {
	var out []map[string]json.RawMessage
	for _, l := range bytes.Split(g.file(name), []byte("\n")) {
		var m map[string]json.RawMessage
		if json.Unmarshal(l, &m) == nil && m["type"] != nil {
			out = append(out, m)
		}
	}
	return out
}

func (g *dellBoot) summary(name string) dellSummary {
	g.t.Helper()
	var s dellSummary
	for _, m := range g.lines(name) {
		if string(m["type"]) == `"summary"` {
			b, _ := json.Marshal(m)
			_ = json.Unmarshal(b, &s)
			return s
		}
	}
	g.t.Fatalf("%s/%s has no summary", g.name, name)
	return s
}

// unlocks: the outcomes of the run's unlock events, in order.
func (g *dellBoot) unlocks(name string, want ...string) {
	g.t.Helper()
	var got []string
	for _, m := range g.lines(name) {
		if string(m["type"]) == `"unlock"` {
			var o string
			_ = json.Unmarshal(m["outcome"], &o)
			got = append(got, o)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		g.t.Errorf("%s/%s: unlock outcomes %v, want %v", g.name, name, got, want)
	}
}

// pending: the journal's pending actions after the boot's install(s).
func (g *dellBoot) pending(want ...string) {
	g.t.Helper()
	var st struct{ Pending []struct{ Action string } }
	if err := json.Unmarshal(g.file("status.json"), &st); err != nil {
		g.t.Fatalf("%s/status.json: %v", g.name, err)
	}
	var got []string
	for _, p := range st.Pending {
		got = append(got, p.Action)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		g.t.Errorf("%s: pending %v, want %v\n%s", g.name, got, want, g.read("status.txt"))
	}
}

// smis: GBL_SMI_EN as the check at the end of the boot read it.
func (g *dellBoot) smis(on bool) {
	g.t.Helper()
	want := "(GBL_SMI_EN=0)"
	if on {
		want = "(GBL_SMI_EN=1)"
	}
	if b := g.check("after.json"); !strings.Contains(b.Detail, want) {
		g.t.Errorf("%s: after the boot's runs, SMIs: %s; want %s", g.name, b.Detail, want)
	}
}

// chip: the emulated flash chip, dumped from the state disk after the boot.
func (g *dellBoot) chip(want []byte) {
	g.t.Helper()
	if got := g.file("chip.bin"); !bytes.Equal(got, want) {
		g.t.Errorf("%s: the flash chip holds %d bytes that are not what it should hold", g.name, len(got))
	}
}
