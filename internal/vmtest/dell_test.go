package vmtest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// issue 15: in a q35 guest with a Dell Latitude E6400's SMBIOS identity
// (scripts/vmdell.sh), libreflash check names the machine and the Dell
// route, and its lock-state probes read the real emulated ICH9: HSFS
// through RCBA and /dev/mem, SMI_EN at PMBASE+0x30 by port read,
// GEN_PMCON_1 and BIOS_CNTL from PCI config.
func TestDellGuest(t *testing.T) {
	skipUnlessRunnable(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
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
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, "dell", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if dmi := read("dmi"); !strings.Contains(dmi, "Dell Inc.\nLatitude E6400\nDell Inc.") {
		t.Fatalf("the guest's DMI is not the Dell identity:\n%s", dmi)
	}
	var r struct {
		Checks []struct{ ID, Status, Summary, Detail string }
	}
	if err := json.Unmarshal([]byte(read("check.json")), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Checks) == 0 || r.Checks[0].ID != "board" {
		t.Fatalf("board is not the first check: %+v", r.Checks)
	}
	b := r.Checks[0]
	for _, want := range []string{"Dell Latitude E6400", "running Dell Inc. A34", "route dell_unlock"} {
		if !strings.Contains(b.Summary, want) {
			t.Errorf("board summary %q lacks %q", b.Summary, want)
		}
	}
	// Real registers: q35's RCRB serves no SPI controller (HSFS reads 0:
	// no valid descriptor), SeaBIOS leaves SMIs enabled (GBL_SMI_EN) and
	// sets SMI_LOCK, at PMBASE 0x600.
	for _, want := range []string{"HSFS=0x0000 (FDV=0", "SMI_EN=", "at port 0x630 (GBL_SMI_EN=1)", "SMI_LOCK=", "BIOS_CNTL=0x00"} {
		if !strings.Contains(b.Detail, want) {
			t.Errorf("board detail %q lacks %q", b.Detail, want)
		}
	}
	if strings.Contains(b.Detail, "not read:") {
		t.Errorf("a lock register could not be read in the guest: %s", b.Detail)
	}
	if txt := read("check.txt"); !strings.Contains(txt, "[pass] board") {
		t.Errorf("check:\n%s", txt)
	}
}
