package restore

import (
	"context"
	"fmt"
	"path/filepath"
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
			if fmt.Sprint(DeriveActions(r)) != fmt.Sprint(d.Actions) {
				t.Errorf("DeriveActions differs")
			}
			lock, _ := r.Get("lockdown")
			if (lock.Status == preflight.Fail) != (len(d.Notes) > 0) {
				t.Errorf("lockdown %s, notes %q", lock.Status, d.Notes)
			}
		})
	}
}
