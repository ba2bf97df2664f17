package statedir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"libreflash/internal/exitcode"
)

func TestLockRefusesSecondHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second open file description, as another process would have.
	_, err = Lock(dir)
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second Lock: got %v, want *BusyError", err)
	}
	if busy.PID != os.Getpid() {
		t.Errorf("BusyError.PID = %d, want %d", busy.PID, os.Getpid())
	}
	if busy.ExitCode() != exitcode.Blocked || busy.Hint() == "" {
		t.Errorf("busy error: code %d hint %q", busy.ExitCode(), busy.Hint())
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("state dir mode: %v %v", fi.Mode(), err)
	}
	unlock()
	unlock2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

// TestLockHeldByOtherProcess holds the lock from a real second process
// (flock(1)) so the refusal is tested across processes, as in real use.
func TestLockHeldByOtherProcess(t *testing.T) {
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(flock, "-x", filepath.Join(dir, "lock"), "sh", "-c", "echo locked; read x")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir)
	var busy *BusyError
	if !errors.As(err, &busy) {
		t.Errorf("Lock while flock(1) holds it: %v", err)
	}
	in.Close()
	cmd.Wait()
	unlock, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after holder exited: %v", err)
	}
	unlock()
}

func TestResolve(t *testing.T) {
	env := map[string]string{EnvVar: "/env"}
	if got := Resolve("/flag", func(k string) string { return env[k] }); got != "/flag" {
		t.Errorf("flag: %s", got)
	}
	if got := Resolve("", func(k string) string { return env[k] }); got != "/env" {
		t.Errorf("env: %s", got)
	}
	if got := Resolve("", func(string) string { return "" }); got != Default {
		t.Errorf("default: %s", got)
	}
}

func TestLockPermissionHint(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write anywhere")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	_, err := Lock(filepath.Join(dir, "state"))
	var h exitcode.Hinter
	if !errors.As(err, &h) || h.Hint() == "" {
		t.Errorf("Lock in a read-only dir: %v", err)
	}
}
