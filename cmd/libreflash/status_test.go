package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestStatusNotRoot: status run by a user who cannot read the state
// directory (root's, 0700) says to use sudo instead of a bare "permission
// denied". Root reads anything, so as root the test runs a copy of itself as
// nobody.
func TestStatusNotRoot(t *testing.T) {
	if dir := os.Getenv("LIBREFLASH_TEST_STATUS_DIR"); dir != "" {
		var stdout, stderr bytes.Buffer
		code := run([]string{"status", "--state-dir", dir}, strings.NewReader(""), &stdout, &stderr)
		if code != 1 {
			t.Errorf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
		}
		for _, want := range []string{"libreflash: error: ", "permission denied", "libreflash: hint: ", "sudo libreflash status"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, &stderr)
			}
		}
		return
	}
	base, err := os.MkdirTemp("", "libreflash-status")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(base, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "journal.json"), []byte(`{"version":1,"entries":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStatusNotRoot$", "-test.v")
	if os.Geteuid() == 0 {
		// The test binary sits in a private build directory: run a copy.
		bin, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		self := filepath.Join(base, "libreflash.test")
		if err := os.WriteFile(self, bin, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(self, "-test.run=^TestStatusNotRoot$", "-test.v")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	cmd.Dir = base
	cmd.Env = append(os.Environ(), "LIBREFLASH_TEST_STATUS_DIR="+state)
	out, err := cmd.CombinedOutput()
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("cannot run a copy of the test binary from %s as nobody (noexec mount?): %v", base, err)
	}
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestStatusNotRoot") {
		t.Fatalf("child did not run the check:\n%s", out)
	}
}
