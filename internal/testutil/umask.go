package testutil

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// Umask sets the process's umask to mask for the rest of the test and puts
// the old one back when it ends. The umask is the whole process's: a test
// that calls Umask must not be parallel (t.Parallel), so that it runs while
// no other test of the package does.
func Umask(t testing.TB, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

// Modes fails t for anything below dir (dir included) that is not a
// directory of mode dirMode or a regular file of mode fileMode, and returns
// how many entries it looked at.
func Modes(t testing.TB, dir string, dirMode, fileMode fs.FileMode) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n++
		switch {
		case fi.IsDir() && fi.Mode().Perm() == dirMode:
		case fi.Mode().IsRegular() && fi.Mode().Perm() == fileMode:
		default:
			t.Errorf("%s: %v, want a directory %v or a file %v", p, fi.Mode(), dirMode, fileMode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
