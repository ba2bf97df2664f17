package testutil

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Nobody is the unprivileged user that HostileShell runs as.
const Nobody = 65534

// HostileDir returns a new temp directory that the unprivileged user Nobody
// may enter, owned by root with mode 0755 like the directories above a
// shared state directory. It skips the test when not run as root.
func HostileDir(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as a second, unprivileged user")
	}
	d, err := os.MkdirTemp("", "hostile")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// HostileShell runs script with /bin/sh in dir as the unprivileged user
// Nobody, as another local user preparing a trap for root would, and fails
// the test if it fails.
func HostileShell(t testing.TB, dir, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: Nobody, Gid: Nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("as uid %d: %s: %v\n%s", Nobody, script, err, out)
	}
}
