package restore

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealRootOwnership runs the real-system path (root "/", runner's
// CheckOwnership) on a tool every Linux has, read-only.
func TestRealRootOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the host's system tools are root-owned; only meaningful as root")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	m := New("/", t.TempDir())
	real, err := filepath.EvalSymlinks(sh)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.checkOwnership(real); err != nil {
		t.Errorf("%s: %v", real, err)
	}
	open := filepath.Join(t.TempDir(), "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	writeT(t, filepath.Join(open, "tool"), "", 0o755)
	if err := m.checkOwnership(filepath.Join(open, "tool")); err == nil {
		t.Errorf("a tool in a world-writable directory passed")
	}
}

func TestResolveInsideRoot(t *testing.T) {
	root := t.TempDir()
	writeT(t, filepath.Join(root, "usr/bin/tool"), "", 0o755)
	os.Symlink("/usr/bin", filepath.Join(root, "bin"))         // absolute: restarts at the root
	os.Symlink("../../../../../etc", filepath.Join(root, "x")) // cannot climb out
	m := &Manager{Root: root}
	if got, err := m.resolve("/bin/tool"); err != nil || got != filepath.Join(root, "usr/bin/tool") {
		t.Errorf("resolve /bin/tool = %q, %v", got, err)
	}
	if got, err := m.resolve("/x/passwd"); err == nil && !strings.HasPrefix(got, root) {
		t.Errorf("escaped the root: %s", got)
	}
}
