//go:build linux

package preflight

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The host probes, exercised on harmless files: /dev/null is a character
// device (1:3), and a temporary file stands in for /dev/mem.
func TestHostStat(t *testing.T) {
	n, err := hostStat("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	if !n.Char || n.Major != 1 || n.Minor != 3 || n.Perm != 0o666 {
		t.Errorf("/dev/null: %+v", n)
	}
	if _, err := hostStat(filepath.Join(t.TempDir(), "mem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing node: %v", err)
	}
}

func TestHostMapMem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "mem")
	if err := os.WriteFile(p, make([]byte, 3*4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := hostMapMem(p, 4096, 8192); err != nil {
		t.Errorf("read-only map of a file: %v", err)
	}
	if err := hostMapMem(p, 1, 4096); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("unaligned offset: %v, want EINVAL", err)
	}
	if err := hostMapMem(p+".absent", 0, 4096); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("absent: %v, want ENOENT", err)
	}
}

// probeIopl raises to 3 and drops to 0 at once; when 3 is refused there is
// nothing to drop.
func TestProbeIoplDropsAgain(t *testing.T) {
	var calls []int
	rec := func(err error) func(int) error {
		return func(l int) error {
			calls = append(calls, l)
			if l == 3 {
				return err
			}
			return nil
		}
	}
	if err := probeIopl(rec(nil)); err != nil || len(calls) != 2 || calls[0] != 3 || calls[1] != 0 {
		t.Errorf("granted: err %v, calls %v", err, calls)
	}
	calls = nil
	if err := probeIopl(rec(syscall.ENOSYS)); !errors.Is(err, syscall.ENOSYS) || len(calls) != 1 {
		t.Errorf("refused: err %v, calls %v", err, calls)
	}
}
