package rom

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/testutil"
)

func wantOpenError(t *testing.T, path, reason string) {
	t.Helper()
	img, err := Open(path)
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("Open(%s) = %v, %v; want *OpenError", path, img, err)
	}
	if !strings.Contains(oe.Error(), reason) {
		t.Errorf("error %q lacks %q", oe.Error(), reason)
	}
	if oe.ExitCode() != exitcode.Blocked || oe.Hint() == "" {
		t.Errorf("exit %d hint %q", oe.ExitCode(), oe.Hint())
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	loop := filepath.Join(dir, "loop.rom")
	os.Symlink(loop, loop)
	empty := filepath.Join(dir, "empty.rom")
	os.WriteFile(empty, nil, 0o644)
	// A sparse file just over the limit: costs no disk.
	big := filepath.Join(dir, "big.rom")
	f, _ := os.Create(big)
	f.Truncate(MaxSize + 1)
	f.Close()

	wantOpenError(t, dir, "is a directory")
	wantOpenError(t, loop, "symlink loop")
	wantOpenError(t, empty, "is empty")
	wantOpenError(t, big, "more than any flash chip")
	wantOpenError(t, filepath.Join(dir, "missing.rom"), "no such file")
	wantOpenError(t, "/dev/null", "character device")
}

func TestOpenFIFODoesNotBlock(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.rom")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		wantOpenError(t, fifo, "a FIFO")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocked on a FIFO with no writer")
	}
}

func TestOpenFollowsSymlink(t *testing.T) {
	path := build(t, spec{size: 4 << 20, config: x200Config})
	link := filepath.Join(t.TempDir(), "link.rom")
	os.Symlink(path, link)
	img := openT(t, link)
	if img.Size() != 4<<20 || img.CBFS == nil {
		t.Errorf("size %d cbfs %v", img.Size(), img.CBFS)
	}
}

// TestOpenUnreadable needs a user the permission bits apply to. Root
// ignores them, so as root the test runs itself again as nobody.
func TestOpenUnreadable(t *testing.T) {
	if os.Getenv("ROM_TEST_UNREADABLE") != "" {
		wantOpenError(t, os.Getenv("ROM_TEST_UNREADABLE"), "permission denied")
		return
	}
	dir, err := os.MkdirTemp("", "rom-unreadable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "secret.rom")
	os.WriteFile(path, []byte("x"), 0o000)
	os.Chmod(path, 0o000)
	if os.Geteuid() != 0 {
		wantOpenError(t, path, "permission denied")
		return
	}
	testutil.AsNobody(t, dir, "TestOpenUnreadable", "ROM_TEST_UNREADABLE="+path)
}
