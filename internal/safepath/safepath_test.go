package safepath

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// tree makes dir/a/b/file (all root's, 0755/0644) and returns dir.
func tree(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the rule trusts root-owned paths")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a", "b", "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func insecure(t *testing.T, err error, at, reason string) {
	t.Helper()
	var ie *InsecureError
	if !errors.As(err, &ie) || !IsInsecure(err) {
		t.Fatalf("got %v, want insecure %s", err, at)
	}
	if ie.Path != at || !strings.Contains(ie.Reason, reason) {
		t.Errorf("got %s: %s, want %s: …%s…", ie.Path, ie.Reason, at, reason)
	}
}

func TestCheckOwnersAndModes(t *testing.T) {
	dir := tree(t)
	file := filepath.Join(dir, "a", "b", "file")
	r := Rule{Top: dir}
	if err := Check(file, r); err != nil {
		t.Fatalf("a root-owned tree: %v", err)
	}

	os.Chmod(filepath.Join(dir, "a"), 0o775)
	insecure(t, Check(file, r), filepath.Join(dir, "a"), "writable by group")
	os.Chmod(filepath.Join(dir, "a"), 0o757)
	insecure(t, Check(file, r), filepath.Join(dir, "a"), "writable by others")
	os.Chmod(filepath.Join(dir, "a"), 0o755)

	os.Chown(file, 65534, 65534)
	insecure(t, Check(file, r), file, "owned by uid 65534, not root")
	if err := Check(file, Rule{Top: dir, Owners: []int{0, 65534}}); err != nil {
		t.Errorf("65534 among the owners: %v", err)
	}
	os.Chown(file, 0, 0)

	// A sticky, world-writable, root-owned directory (as /tmp): on the way
	// only with StickyOK; as the path itself only with StickyLast too.
	b := filepath.Join(dir, "a", "b")
	os.Chmod(b, os.ModeSticky|0o777)
	insecure(t, Check(file, r), b, "writable by group and others (sticky, as /tmp)")
	if err := Check(file, Rule{Top: dir, StickyOK: true}); err != nil {
		t.Errorf("sticky on the way, StickyOK: %v", err)
	}
	insecure(t, Check(b, Rule{Top: dir, StickyOK: true}), b, "sticky")
	if err := Check(b, Rule{Top: dir, StickyOK: true, StickyLast: true}); err != nil {
		t.Errorf("sticky last, StickyLast: %v", err)
	}
	os.Chown(b, 65534, 0)
	insecure(t, Check(file, Rule{Top: dir, StickyOK: true}), b, "owned by uid 65534")
}

func TestCheckWalk(t *testing.T) {
	dir := tree(t)
	if err := Check(filepath.Join(dir, "nope"), Rule{Top: dir}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
	if err := Check(filepath.Join(dir, "a", "b", "file", "x"), Rule{Top: dir}); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("through a file: %v", err)
	}
	if err := Check("/etc", Rule{Top: dir}); err == nil || !strings.Contains(err.Error(), "outside") {
		t.Errorf("outside Top: %v", err)
	}
	// Below a fake root, links are not followed.
	os.Symlink("b", filepath.Join(dir, "a", "link"))
	if err := Check(filepath.Join(dir, "a", "link", "file"), Rule{Top: dir}); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("link under Top: %v", err)
	}
}

// From "/", a link is followed and its target checked from the start: a
// safe-looking path that leads into a directory others may write fails.
func TestCheckFollowsLinks(t *testing.T) {
	dir := tree(t)
	open := filepath.Join(dir, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	os.WriteFile(filepath.Join(open, "file"), nil, 0o644)
	os.Symlink(open, filepath.Join(dir, "a", "to-open"))
	os.Symlink(filepath.Join(dir, "a", "b"), filepath.Join(dir, "a", "to-b"))
	r := Rule{StickyOK: true} // the test's temporary directory is below /tmp
	if err := Check(filepath.Join(dir, "a", "to-b", "file"), r); err != nil {
		t.Errorf("a link to a safe directory: %v", err)
	}
	insecure(t, Check(filepath.Join(dir, "a", "to-open", "file"), r), open, "writable by group and others")
	os.Symlink("loop", filepath.Join(dir, "a", "loop"))
	if err := Check(filepath.Join(dir, "a", "loop"), r); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a link loop: %v", err)
	}
}
