package restore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

// TestDeriveFromReport runs the real checks on the check helper's fixture
// machines (some captured from a real kernel under QEMU) and derives what
// prepare would do.
func TestDeriveFromReport(t *testing.T) {
	for _, tc := range []struct{ machine, actions string }{
		{"debian-thinkpad-legacy", "[iomem-relaxed unload-drivers]"},
		{"iomem-relaxed", "[]"},
		{"no-iopl-kernel", "[]"},
		// Captured from a Debian kernel under QEMU (branch vm): lpc_ich
		// loaded does not block there, so nothing is lowered.
		{"qemu-q35-lpc-ich", "[]"},
		{"qemu-q35-iomem-relaxed-lpc-ich", "[]"},
		{"qemu-q35-lockdown-integrity", "[iomem-relaxed]"},
		// Lockdown closes /dev/mem too: the firmware setting is explained,
		// and the same reboot also brings iomem=relaxed.
		{"uefi-secureboot-lockdown-integrity", "[iomem-relaxed unload-drivers]"},
	} {
		t.Run(tc.machine, func(t *testing.T) {
			e, err := preflighttest.Load(filepath.Join("..", "preflight", "testdata", tc.machine))
			if err != nil {
				t.Fatal(err)
			}
			r := preflight.Run(context.Background(), e, preflight.Options{Programmer: "internal"})
			d := DeriveFromReport(r)
			if got := fmt.Sprint(d.Actions); got != tc.actions {
				dm, _ := r.Get("devmem")
				t.Errorf("actions %s, want %s (devmem %s: %s; facts %+v)", got, tc.actions, dm.Status, dm.Summary, r.Facts)
			}
			lock, _ := r.Get("lockdown")
			if (lock.Status == preflight.Fail) != (len(d.Notes) > 0) {
				t.Errorf("lockdown %s, notes %q", lock.Status, d.Notes)
			}
		})
	}
}

// TestDeriveForcedLockdown: with lockdown forced by the kernel build, the
// notes of prepare (and a blocked install) do not tell the user to turn
// Secure Boot off, which would change nothing; they name the kernel option,
// as diagnose's fix does.
func TestDeriveForcedLockdown(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "preflight", "testdata", "uefi-secureboot-lockdown-integrity"))); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "root", "boot", "config-6.1.0-56-amd64")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE=y"), []byte("# CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE is not set"), 1)
	b = bytes.Replace(b, []byte("# CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY is not set"), []byte("CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y"), 1)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, forced := range []bool{false, true} {
		src := filepath.Join("..", "preflight", "testdata", "uefi-secureboot-lockdown-integrity")
		if forced {
			src = dir
		}
		e, err := preflighttest.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		r := preflight.Run(context.Background(), e, preflight.Options{Programmer: "internal"})
		notes := strings.Join(DeriveFromReport(r).Notes, "\n")
		if notes == "" {
			t.Fatalf("forced %v: no notes", forced)
		}
		says := strings.Contains(notes, "Turn SecureBoot off")
		if says == forced || forced != strings.Contains(notes, "CONFIG_LOCK_DOWN_KERNEL_FORCE") {
			t.Errorf("forced %v (facts %+v): notes %q", forced, r.Facts, notes)
		}
	}
}
