package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"libreflash/internal/statedir"
	"libreflash/internal/testutil"
)

// stateModes fails t for anything in the state directory that is not a
// 0700 directory or a 0600 file.
func stateModes(t *testing.T, state string) {
	t.Helper()
	if n := testutil.Modes(t, state, statedir.DirMode, statedir.FileMode); n < 10 {
		t.Errorf("only %d entries in %s", n, state)
	}
}

// TestUmaskRehearseThenBackup: root with umask 002, 0 or 0277 rehearses an
// install twice and backs up, with real flashrom, on a state directory
// that does not exist yet. Everything made there is 0700/0600 — also the
// verify read, a file flashrom itself creates (0666 less the umask), which
// made the next run refuse the state directory before (issue: the closing
// note's "Umask").
func TestUmaskRehearseThenBackup(t *testing.T) {
	needFlashrom(t)
	f := flashrom(t)
	rom := x200ROM(t, size4M)
	from := mkrom(t, "factory", size4M)
	for _, mask := range []int{0o002, 0, 0o277} {
		t.Run(fmt.Sprintf("%04o", mask), func(t *testing.T) {
			state := filepath.Join(t.TempDir(), "new", "state")
			chip := chipFile(t, from)
			root := dmiRoot(t)
			// t.TempDir makes its directories 0777 less the umask: all of
			// them are made first.
			testutil.Umask(t, mask)
			o := InstallOptions{ROM: rom, FlasherPath: testFlashrom, Rehearse: true, RehearseFrom: from,
				StateDir: state, Env: fixture(t, "debian-thinkpad-legacy")}
			for i := 1; i <= 2; i++ {
				ev := &events{}
				o.Emit = ev.sink
				s, err := Install(context.Background(), o)
				if err != nil {
					t.Fatalf("rehearsal %d: %v (exit %d)\n%s", i, err, exitOf(err), ev.logs())
				}
				if v, _ := ev.first(TypeVerify).(*Verify); v == nil || !v.OK || v.Read == "" || s.Result != ResultOK {
					t.Fatalf("rehearsal %d: result %s, verify read %+v", i, s.Result, v)
				}
				stateModes(t, state)
			}
			if _, err := Backup(context.Background(), BackupOptions{
				Programmer: "dummy:emulate=SST25VF032B,image=" + chip, Flasher: f, StateDir: state, Root: root,
			}); err != nil {
				t.Fatalf("backup after the rehearsals: %v (exit %d)", err, exitOf(err))
			}
			stateModes(t, state)
			if err := statedir.Check(state); err != nil {
				t.Errorf("the state directory libreflash made is refused: %v", err)
			}
		})
	}
}
