package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"libreflash/internal/testutil"
)

// TestMkdirAllExactMode: missing directories get perm exactly under a
// umask that would take bits away (0277) or give none (0); one that
// exists keeps its mode, and Mkdirat of an existing name is EEXIST.
func TestMkdirAllExactMode(t *testing.T) {
	for _, mask := range []int{0o277, 0} {
		t.Run(fmt.Sprintf("%04o", mask), func(t *testing.T) {
			base := t.TempDir()
			if err := os.Mkdir(filepath.Join(base, "etc"), 0o750); err != nil {
				t.Fatal(err)
			}
			testutil.Umask(t, mask)
			dir := filepath.Join(base, "etc", "default", "grub.d")
			if err := MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			for p, want := range map[string]os.FileMode{"etc": 0o750, "etc/default": 0o755, "etc/default/grub.d": 0o755} {
				fi, err := os.Stat(filepath.Join(base, p))
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("umask %04o: %s is %v, want %v", mask, p, fi.Mode().Perm(), want)
				}
			}
			if err := Mkdirat(unix.AT_FDCWD, dir, 0o755); !errors.Is(err, unix.EEXIST) {
				t.Errorf("Mkdirat of an existing directory: %v, want EEXIST", err)
			}
		})
	}
}
