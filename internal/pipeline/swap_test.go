package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"libreflash/internal/statedir"
)

// Issue 13: a runs/<ts>/image.rom swapped after the checks (here: while
// the user is asked to confirm) is not written; the chip keeps its
// contents and the run is blocked (exit 3).
func TestSwappedImageNotWritten(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	evil := mkrom(t, "factory", size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	swapped := false
	r.opts.Confirm = func(string) bool {
		imgs, _ := filepath.Glob(filepath.Join(r.opts.StateDir, "runs", "*", "image.rom"))
		for _, p := range imgs {
			b, _ := os.ReadFile(evil)
			if os.WriteFile(p, b, 0o600) == nil {
				swapped = true
			}
		}
		return true
	}
	s, err := r.install(t)
	if !swapped {
		t.Fatal("no image.rom in the run directory to swap")
	}
	var ce *statedir.ChangedError
	if !errors.As(err, &ce) || exitOf(err) != 3 || s.Result != ResultBlocked {
		t.Fatalf("install with a swapped image: %v (exit %d, result %s)", err, exitOf(err), s.Result)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("the chip was written")
	}
}
