package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/testutil"
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
	if os.Geteuid() != 0 {
		t.Setenv("LIBREFLASH_TEST_STATUS_DIR", state)
		TestStatusNotRoot(t)
		return
	}
	testutil.AsNobody(t, base, "TestStatusNotRoot", "LIBREFLASH_TEST_STATUS_DIR="+state)
}
