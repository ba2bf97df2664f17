package statedir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A lock symlink that root made itself (or that survived a chown) is still
// never opened: its target keeps its content.
func TestLockSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	os.Mkdir(state, 0o700)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious\n"), 0o600)
	os.Symlink(victim, filepath.Join(state, "lock"))
	_, err := Acquire(state)
	var ue *UnsafeError
	if !errors.As(err, &ue) {
		t.Fatalf("Acquire with a lock symlink: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("lock symlink target truncated: %q", b)
	}
}

// startFlasher starts a stand-in for a flasher that runs until killed.
func startFlasher(t *testing.T, extra ...*os.File) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// Issue 13 item 3: libreflash dies, its flasher goes on; the next run must
// be refused while that flasher runs, and only then.
func TestRecordedFlasherKeepsLock(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	h, err := Acquire(state)
	if err != nil {
		t.Fatal(err)
	}
	fl := startFlasher(t) // does not inherit the lock
	if err := h.SetFlasher(fl.Process.Pid); err != nil {
		t.Fatal(err)
	}
	h.Unlock() // libreflash is gone; the flasher is not
	_, err = Acquire(state)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.FlasherPID != fl.Process.Pid {
		t.Fatalf("Acquire while the recorded flasher runs: %v", err)
	}
	if busy.Hint() == "" || busy.ExitCode() != 3 {
		t.Errorf("busy: %d %q", busy.ExitCode(), busy.Hint())
	}
	fl.Process.Kill()
	fl.Wait()
	h2, err := Acquire(state)
	if err != nil {
		t.Fatalf("Acquire after the flasher exited: %v", err)
	}
	h2.Unlock()
}

// The flasher inherits the locked file: killing libreflash (here: closing
// its descriptor without a word) leaves the lock held until the flasher
// exits.
func TestInheritedLock(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	h, err := Acquire(state)
	if err != nil {
		t.Fatal(err)
	}
	fl := startFlasher(t, h.File())
	h.SetFlasher(fl.Process.Pid)
	h.File().Close() // as if libreflash were killed
	_, err = Acquire(state)
	var busy *BusyError
	if !errors.As(err, &busy) || busy.FlasherPID != fl.Process.Pid {
		t.Fatalf("Acquire while a flasher holds the inherited lock: %v", err)
	}
	fl.Process.Kill()
	fl.Wait()
	h2, err := Acquire(state)
	if err != nil {
		t.Fatalf("after the flasher exited: %v", err)
	}
	h2.Unlock()
}

// A recorded pid that now belongs to another process (pid reuse) does not
// block: the start time differs.
func TestRecordedFlasherPidReused(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	other := startFlasher(t)
	os.MkdirAll(state, 0o700)
	os.WriteFile(filepath.Join(state, "lock"), []byte("pid 1\nflasher "+strconv.Itoa(other.Process.Pid)+" 1\n"), 0o600)
	h, err := Acquire(state)
	if err != nil {
		t.Fatalf("a reused pid blocked the lock: %v", err)
	}
	h.Unlock()
}

// Issue 13 item 4: two state directories, one chip.
func TestChipLock(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	a, err := ChipLock(run, "internal")
	if err != nil {
		t.Fatal(err)
	}
	var busy *BusyError
	if _, err := ChipLock(run, "internal:laptop=this_is_not_a_laptop"); !errors.As(err, &busy) || busy.What != "the flash chip" {
		t.Fatalf("second internal lock: %v", err)
	}
	// The dummy programmer: one chip per emulated image file, however named.
	dir := t.TempDir()
	img := filepath.Join(dir, "chip.bin")
	os.WriteFile(img, make([]byte, 16), 0o600)
	os.Link(img, filepath.Join(dir, "same.bin"))
	d1, err := ChipLock(run, "dummy:emulate=W25Q128FV,image="+img)
	if err != nil {
		t.Fatalf("dummy lock beside the internal one: %v", err)
	}
	if _, err := ChipLock(run, "dummy:image="+filepath.Join(dir, "same.bin")+",emulate=W25Q128FV"); !errors.As(err, &busy) {
		t.Errorf("same image file through another name: %v", err)
	}
	d2, err := ChipLock(run, "dummy:emulate=W25Q128FV,image="+filepath.Join(dir, "other.bin"))
	if err != nil {
		t.Errorf("another image file: %v", err)
	} else {
		d2.Unlock()
	}
	d1.Unlock()
	a.Unlock()
	if h, err := ChipLock(run, "internal"); err != nil {
		t.Errorf("after unlock: %v", err)
	} else {
		h.Unlock()
	}
	if fi, err := os.Stat(run); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("run dir: %v %v", fi, err)
	}
}

func TestChipKey(t *testing.T) {
	for in, want := range map[string]string{
		"internal":                        "internal",
		"internal:boardenable":            "internal",
		"ch341a_spi":                      "ch341a_spi",
		"serprog:dev=/dev/ttyUSB0:115200": "serprog",
		"../../etc":                       "etc",
		"":                                "unknown",
	} {
		if got := ChipKey(in); got != want {
			t.Errorf("ChipKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Issue 13: a symlink in backups/ (or anywhere libreflash writes) is
// refused, even one root made: nothing is ever written through it.
func TestSymlinkInStateDirRefused(t *testing.T) {
	for _, rel := range []string{"backups", "runs/20260101T000000Z", "rehearsals/lock"} {
		state := filepath.Join(t.TempDir(), "state")
		os.MkdirAll(filepath.Join(state, "runs"), 0o700)
		os.MkdirAll(filepath.Join(state, "rehearsals"), 0o700)
		os.Symlink("/etc", filepath.Join(state, rel))
		var ue *UnsafeError
		if _, err := Acquire(state); !errors.As(err, &ue) {
			t.Errorf("%s symlink: %v", rel, err)
		}
	}
	// The journal alone may be one: it is ignored, never followed.
	state := t.TempDir()
	os.Symlink("/nonexistent", filepath.Join(state, "journal.json"))
	if err := Check(state); err != nil {
		t.Errorf("dangling journal symlink: %v", err)
	}
}
