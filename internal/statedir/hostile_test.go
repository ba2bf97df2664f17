package statedir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"libreflash/internal/exitcode"
	"libreflash/internal/testutil"
)

// Issue 13, "Root on someone else's state directory": each case is a state
// directory another user (uid 65534) prepared, and each must be refused by
// Check, Ensure, Open and Acquire before anything in it is read or written.
func TestHostileStateDirRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string // run as the unprivileged user in a 0777 "pub" dir
		root   string // run as root afterwards, in the test dir
		state  string // the state directory, relative to the test dir
	}{
		{name: "owned by another user", script: "mkdir -m 700 lf", state: "pub/lf"},
		{name: "lock symlink", script: "mkdir -m 700 lf && ln -s ../../victim lf/lock", state: "pub/lf",
			root: "chown 0:0 pub/lf"},
		{name: "backups symlink", script: "mkdir -m 755 lf && ln -s ../../victimdir lf/backups", state: "pub/lf",
			root: "chown 0:0 pub/lf"},
		{name: "planted journal", script: "mkdir lf && printf '{\"version\":1,\"entries\":[]}' > lf/journal.json", state: "pub/lf",
			root: "chown 0:0 pub/lf && chmod 700 pub/lf"},
		{name: "runs writable by its owner", script: "mkdir -p lf/runs/20260101T000000Z && : > lf/runs/20260101T000000Z/image.rom", state: "pub/lf",
			root: "chown 0:0 pub/lf && chmod 700 pub/lf"},
		{name: "below another user's directory", script: "mkdir -m 755 home", state: "pub/home/lf",
			root: "mkdir -m 700 pub/home/lf"},
		{name: "sticky world-writable", state: "sticky", root: "mkdir -m 1777 sticky"},
		{name: "group-writable", state: "grp", root: "mkdir -m 770 grp"},
		{name: "fifo", state: "ff", root: "mkdir -m 700 ff && mkfifo ff/journal.json"},
		{name: "world-writable file", state: "ww", root: "mkdir -m 700 ww && touch ww/journal.json && chmod 666 ww/journal.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := testutil.HostileDir(t)
			pub := filepath.Join(top, "pub")
			if err := os.Mkdir(pub, 0o777); err != nil {
				t.Fatal(err)
			}
			os.Chmod(pub, 0o777|os.ModeSticky)
			victim := filepath.Join(top, "victim")
			os.WriteFile(victim, []byte("precious\n"), 0o644)
			os.Mkdir(filepath.Join(top, "victimdir"), 0o755)
			if tc.script != "" {
				testutil.HostileShell(t, pub, tc.script)
			}
			if tc.root != "" {
				cmd := exec.Command("/bin/sh", "-ec", tc.root)
				cmd.Dir = top
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: %v %s", tc.root, err, out)
				}
			}
			state := filepath.Join(top, tc.state)
			before := snapshotTree(t, top)
			for name, f := range map[string]func() error{
				"Check":  func() error { return Check(state) },
				"Ensure": func() error { return Ensure(state) },
				"Open": func() error {
					d, err := Open(state, false)
					if err == nil {
						d.Close()
					}
					return err
				},
				"Acquire": func() error {
					h, err := Acquire(state)
					if err == nil {
						h.Unlock()
					}
					return err
				},
			} {
				err := f()
				var ue *UnsafeError
				if !errors.As(err, &ue) {
					t.Fatalf("%s: got %v, want *UnsafeError", name, err)
				}
				var c exitcode.Coder
				var h exitcode.Hinter
				if !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked || !errors.As(err, &h) || h.Hint() == "" {
					t.Errorf("%s: %v: want exit 3 with a hint", name, err)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
				t.Errorf("victim file changed: %q", b)
			}
			if after := snapshotTree(t, top); after != before {
				t.Errorf("the refused state directory was changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

// snapshotTree lists every path, mode and size under dir.
func snapshotTree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %v %d\n", p, fi.Mode(), fi.Size())
		}
		return nil
	})
	return b.String()
}

func TestSafeStateDirs(t *testing.T) {
	top := testutil.HostileDir(t)
	// Under a sticky /tmp-like directory, a root-owned 0700 directory is
	// fine, existing or not.
	pub := filepath.Join(top, "pub")
	os.Mkdir(pub, 0o755)
	os.Chmod(pub, 0o777|os.ModeSticky)
	state := filepath.Join(pub, "lf", "deeper")
	if err := Check(state); err != nil {
		t.Fatalf("Check of a directory still to be made under a sticky one: %v", err)
	}
	h, err := Acquire(state)
	if err != nil {
		t.Fatal(err)
	}
	h.Unlock()
	fi, err := os.Stat(state)
	if err != nil || fi.Mode().Perm() != 0o700 || fi.Mode()&os.ModeSticky != 0 {
		t.Fatalf("made %v %v", fi.Mode(), err)
	}
	// A symlinked state path whose target is root's is followed.
	link := filepath.Join(top, "link")
	os.Symlink(state, link)
	if err := Check(link); err != nil {
		t.Errorf("Check through a root-owned symlink: %v", err)
	}
}

func TestDirOpenNoFollow(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	d, err := Open(state, true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	outside := filepath.Join(t.TempDir(), "outside")
	os.WriteFile(outside, []byte("x"), 0o600)
	os.Mkdir(filepath.Join(state, "runs"), 0o700)
	os.Symlink(outside, filepath.Join(state, "journal.json"))
	os.Symlink(filepath.Dir(outside), filepath.Join(state, "backups"))

	var se *SymlinkError
	if _, err := d.ReadFile("journal.json", 100); !errors.As(err, &se) {
		t.Errorf("ReadFile through a symlink: %v", err)
	}
	if _, err := d.OpenFile("backups/outside", os.O_RDWR|os.O_TRUNC, 0); !errors.As(err, &se) {
		t.Errorf("OpenFile through a symlinked directory: %v", err)
	}
	if err := d.Mkdir("backups"); !errors.As(err, &se) {
		t.Errorf("Mkdir over a symlink: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "x" {
		t.Errorf("symlink target changed: %q", b)
	}
	f, err := d.Create("runs/a", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("hello")
	f.Close()
	if _, err := d.Create("runs/a", 0o600); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over an existing file: %v", err)
	}
	var tl *TooLargeError
	if _, err := d.ReadFile("runs/a", 4); !errors.As(err, &tl) {
		t.Errorf("ReadFile over the cap: %v", err)
	}
	if b, err := d.ReadFile("runs/a", 5); err != nil || string(b) != "hello" {
		t.Errorf("ReadFile: %q %v", b, err)
	}
	for _, bad := range []string{"../x", "/etc/passwd", "."} {
		if _, err := d.OpenFile(bad, os.O_RDONLY, 0); err == nil {
			t.Errorf("OpenFile(%q) accepted", bad)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(state, "runs", "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadFile("runs/fifo", 10); err == nil {
		t.Error("ReadFile of a FIFO accepted")
	}
}

// A swapped runs/<ts>/image.rom is caught before it is handed to the flasher.
func TestVerifyFile(t *testing.T) {
	state := t.TempDir()
	d, err := Open(state, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Mkdir("runs")
	os.WriteFile(filepath.Join(state, "runs", "image.rom"), []byte("good"), 0o600)
	sum := sha256.Sum256([]byte("good"))
	goodSHA := hex.EncodeToString(sum[:])
	if err := d.VerifyFile("runs/image.rom", goodSHA); err != nil {
		t.Fatal(err)
	}
	if err := VerifyPath(filepath.Join(state, "runs", "image.rom"), strings.ToUpper(goodSHA)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(state, "runs", "image.rom"), []byte("evil"), 0o600)
	var ce *ChangedError
	if err := d.VerifyFile("runs/image.rom", goodSHA); !errors.As(err, &ce) || ce.ExitCode() != exitcode.Blocked {
		t.Errorf("swapped image: %v", err)
	}
	os.Remove(filepath.Join(state, "runs", "image.rom"))
	os.Symlink("/etc/hostname", filepath.Join(state, "runs", "image.rom"))
	var se *SymlinkError
	if err := VerifyPath(filepath.Join(state, "runs", "image.rom"), goodSHA); !errors.As(err, &se) {
		t.Errorf("symlinked image: %v", err)
	}
}
