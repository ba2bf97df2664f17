package statedir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
	"libreflash/internal/testutil"
)

// modeOf is path's permission bits, not following a symlink.
func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

// TestModesWhateverTheUmask: what libreflash makes in the state directory
// has its intended mode exactly (directories 0700, files 0600) under root's
// usual umasks and under ones that take away more or give everything, and
// a file a program it runs writes (NewOutput, the program, Private) too;
// Check then accepts the directory. Under umask 0277 the old MkdirAll and
// Mkdirat left 0500 directories and 0400 files.
func TestModesWhateverTheUmask(t *testing.T) {
	for _, mask := range []int{0o002, 0, 0o022, 0o277} {
		t.Run(fmt.Sprintf("%04o", mask), func(t *testing.T) {
			base := t.TempDir()
			testutil.Umask(t, mask)
			state := filepath.Join(base, "a", "b", "state")
			if err := Ensure(state); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{filepath.Join(base, "a"), filepath.Join(base, "a", "b"), state} {
				if m := modeOf(t, d); m != DirMode {
					t.Errorf("%s: mode %04o, want %04o", d, m, DirMode)
				}
			}
			d, err := Open(state, true)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Mkdir("runs"); err != nil {
				t.Fatal(err)
			}
			if err := Mkdir(filepath.Join(state, "runs", "1")); err != nil {
				t.Fatal(err)
			}
			if err := Mkdir(filepath.Join(state, "runs", "1")); !errors.Is(err, fs.ErrExist) {
				t.Errorf("Mkdir of an existing name: %v, want fs.ErrExist", err)
			}
			f, err := d.Create("runs/1/events.jsonl", FileMode)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			unlock, err := Lock(state)
			if err != nil {
				t.Fatal(err)
			}
			unlock()
			// The flasher's read, as it does it: its own open with 0666,
			// under the umask it inherits from libreflash.
			out := filepath.Join(state, "runs", "1", "verify.rom")
			if err := NewOutput(out); err != nil {
				t.Fatal(err)
			}
			if err := NewOutput(out); !errors.Is(err, fs.ErrExist) {
				t.Errorf("NewOutput of an existing file: %v, want fs.ErrExist", err)
			}
			if b, err := exec.Command("sh", "-c", `printf chip > "$1"`, "sh", out).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if err := Private(out); err != nil {
				t.Fatal(err)
			}
			// A program that replaces its output instead: Private mends it.
			repl := filepath.Join(state, "runs", "1", "rollback.rom")
			if b, err := exec.Command("sh", "-c", `umask 0; printf chip > "$1"`, "sh", repl).CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if err := Private(repl); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"runs", "runs/1"} {
				if m := modeOf(t, filepath.Join(state, p)); m != DirMode {
					t.Errorf("%s: mode %04o, want %04o", p, m, DirMode)
				}
			}
			for _, p := range []string{"lock", "runs/1/events.jsonl", "runs/1/verify.rom", "runs/1/rollback.rom"} {
				if m := modeOf(t, filepath.Join(state, p)); m != FileMode {
					t.Errorf("%s: mode %04o, want %04o", p, m, FileMode)
				}
			}
			if err := Check(state); err != nil {
				t.Errorf("Check refuses what libreflash made: %v", err)
			}
		})
	}
}

// TestOpenFileKeepsModeOfExisting: O_CREAT on an existing file (the lock)
// opens it and leaves its mode alone.
func TestOpenFileKeepsModeOfExisting(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	d, err := Open(state, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := os.WriteFile(filepath.Join(state, "lock"), []byte("pid 1\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	f, err := d.OpenFile("lock", os.O_RDWR|os.O_CREATE, FileMode)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if m := modeOf(t, filepath.Join(state, "lock")); m != 0o400 {
		t.Errorf("existing lock: mode %04o, want 0400 kept", m)
	}
}

// TestPrivateRefusesSymlink: Private changes no file a symlink points to.
func TestPrivateRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	var se *SymlinkError
	if err := Private(link); !errors.As(err, &se) {
		t.Errorf("Private(symlink) = %v, want *SymlinkError", err)
	}
	if m := modeOf(t, target); m != 0o644 {
		t.Errorf("the link's target changed to %04o", m)
	}
}

// TestWritableStateDirRefusedWithChmod: a state directory (or something in
// it, or a directory above it) that root made under umask 002 is
// group-writable with group 0, and still refused: gid 0 is not root (it is
// wheel on the BSDs, and anyone's to join). The refusal is exit 3 with the
// exact chmod that mends it, and after that chmod Check accepts it.
func TestWritableStateDirRefusedWithChmod(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the offenders are root's")
	}
	for _, c := range []struct {
		name     string
		make     func(base, state string) error
		offender string // relative to base
		fix      string // relative to base, {} for the path
	}{
		{"state directory", func(base, state string) error { return os.Mkdir(state, 0o775) },
			"state", "sudo chmod -R go-w {state}"},
		{"file in it", func(base, state string) error {
			if err := os.MkdirAll(filepath.Join(state, "runs", "1"), 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(state, "runs", "1", "verify.rom"), nil, 0o666)
		}, "state/runs/1/verify.rom", "sudo chmod -R go-w {state}"},
		{"directory above", func(base, state string) error {
			if err := os.Mkdir(filepath.Dir(state), 0o775); err != nil {
				return err
			}
			return os.Mkdir(state, 0o700)
		}, "up", "sudo chmod go-w {up}"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			state := filepath.Join(base, "state")
			if c.name == "directory above" {
				state = filepath.Join(base, "up", "state")
			}
			testutil.Umask(t, 0)
			if err := c.make(base, state); err != nil {
				t.Fatal(err)
			}
			err := Check(state)
			var ue *UnsafeError
			if !errors.As(err, &ue) {
				t.Fatalf("Check = %v, want *UnsafeError", err)
			}
			if ue.Offender != filepath.Join(base, c.offender) || !strings.Contains(ue.Reason, "writable by group") {
				t.Errorf("offender %s (%s), want %s writable by group", ue.Offender, ue.Reason, filepath.Join(base, c.offender))
			}
			if exitcode.Of(err) != exitcode.Blocked {
				t.Errorf("exit %d, want %d", exitcode.Of(err), exitcode.Blocked)
			}
			fix := strings.NewReplacer("{state}", state, "{up}", filepath.Join(base, "up")).Replace(c.fix)
			if ue.Fix != fix || !strings.Contains(ue.Hint(), "\n  "+fix) {
				t.Errorf("fix %q, hint:\n%s\nwant the command %q", ue.Fix, ue.Hint(), fix)
			}
			if b, err := exec.Command("sh", "-c", strings.TrimPrefix(fix, "sudo ")).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", fix, err, b)
			}
			if err := Check(state); err != nil {
				t.Errorf("after %s: %v", fix, err)
			}
		})
	}
}

// TestNoChmodForOthersDirs: no chmod is offered where it would take
// others' rights (a sticky directory such as /tmp as the state directory)
// or where the offender is not the trusted owner's.
func TestNoChmodForOthersDirs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	base := t.TempDir()
	sticky := filepath.Join(base, "sticky")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, os.ModeSticky|0o777); err != nil {
		t.Fatal(err)
	}
	others := filepath.Join(base, "others")
	if err := os.Mkdir(others, 0o775); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chown(others, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{sticky, others} {
		var ue *UnsafeError
		if err := Check(dir); !errors.As(err, &ue) {
			t.Errorf("Check(%s) = %v, want *UnsafeError", dir, err)
			continue
		}
		if ue.Fix != "" || strings.Contains(ue.Hint(), "chmod") {
			t.Errorf("%s: fix %q offered, hint:\n%s", dir, ue.Fix, ue.Hint())
		}
	}
}
