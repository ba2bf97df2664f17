package restore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"libreflash/internal/statedir"
	"libreflash/internal/testutil"
)

// TestPrepareUmask: prepare run by root with umask 002, 0 or 0277 on a
// state directory that does not exist yet makes it 0700 with 0600 files
// (Check, and so status and restore, accept it), and the GRUB drop-in
// directory it makes on the host 0755 with the drop-in 0644: modes never
// depend on the umask (0277 left /etc/default/grub.d 0500 before).
func TestPrepareUmask(t *testing.T) {
	for _, mask := range []int{0o002, 0, 0o277} {
		t.Run(fmt.Sprintf("%04o", mask), func(t *testing.T) {
			e := newEnv(t, familyNamed("debian"))
			e.state = filepath.Join(t.TempDir(), "new", "state")
			e.m = e.manager()
			testutil.Umask(t, mask)
			e.prepare(t)
			testutil.Modes(t, e.state, statedir.DirMode, statedir.FileMode)
			for p, want := range map[string]os.FileMode{
				filepath.Dir(e.state):                        statedir.DirMode,
				filepath.Join(e.root, "/etc/default/grub.d"): 0o755,
				filepath.Join(e.root, grubDropinPath):        0o644,
			} {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != want {
					t.Errorf("%s: %v, want %v", p, fi.Mode(), want)
				}
			}
			if err := statedir.Check(e.state); err != nil {
				t.Errorf("the state directory prepare made is refused: %v", err)
			}
			st, err := e.m.Status()
			if err != nil || len(st.Pending) != 2 {
				t.Fatalf("status after prepare: %v %+v", err, st)
			}
			if _, err := e.m.Restore(t.Context()); err != nil {
				t.Errorf("restore after prepare: %v", err)
			}
		})
	}
}
