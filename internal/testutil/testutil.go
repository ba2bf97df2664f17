// Package testutil holds helpers that tests of several packages share:
// golden files, emulated chip images and the repository's recorded flasher
// transcripts. Only _test.go files import it.
package testutil

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Golden compares got with the golden file at path. With update it
// rewrites the file instead. On a mismatch it writes got beside the golden
// as .actual and shows a line diff.
func Golden(t testing.TB, path string, got []byte, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(path + ".actual")
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		_ = os.Remove(path + ".actual")
		return
	}
	actual := path + ".actual"
	_ = os.WriteFile(actual, got, 0o644)
	t.Errorf("%s differs from the golden (got written to %s; -update accepts it):\n%s", path, actual, LineDiff(want, got))
}

// LineDiff is a small line diff: the common prefix and suffix are skipped
// and the differing middle is shown as -want/+got, capped for readability.
func LineDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	p := 0
	for p < len(w) && p < len(g) && w[p] == g[p] {
		p++
	}
	sw, sg := len(w), len(g)
	for sw > p && sg > p && w[sw-1] == g[sg-1] {
		sw--
		sg--
	}
	var b strings.Builder
	fmt.Fprintf(&b, "@@ line %d\n", p+1)
	const max = 40
	for i, l := range w[p:sw] {
		if i == max {
			b.WriteString("-…\n")
			break
		}
		b.WriteString("-" + l + "\n")
	}
	for i, l := range g[p:sg] {
		if i == max {
			b.WriteString("+…\n")
			break
		}
		b.WriteString("+" + l + "\n")
	}
	return b.String()
}

// ChipImage writes size random bytes to dir/chip.bin, the file behind an
// emulated chip, and returns its path and contents.
func ChipImage(t testing.TB, dir string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "chip.bin")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// Flashers returns the directory of one set of recorded flasher runs in the
// repository's testdata/flashers (see its README.md), such as
// "flashprog-p1.5-91-g79d5c66"; "" gives testdata/flashers itself. It fails
// the test when the directory is missing: the transcripts are part of the
// repository, so a missing one is a broken checkout, never a reason to skip.
func Flashers(t testing.TB, set string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate the repository")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "testdata", "flashers", set)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("flasher transcripts: %v", err)
	}
	return dir
}

// AsNobody runs the test named name again, as the user nobody, with env
// added to its environment, and fails t unless that run passes. Root ignores
// permission bits; tests of what an ordinary user meets re-run themselves
// this way and tell the two runs apart by env. The test binary sits in a
// private build directory, so a copy of it in dir (which nobody must be able
// to reach) is run; where the copy cannot be executed (a noexec mount) the
// test is skipped with the reason.
func AsNobody(t testing.TB, dir, name string, env ...string) {
	t.Helper()
	bin, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(dir, filepath.Base(os.Args[0]))
	if err := os.WriteFile(self, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^"+name+"$", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, os.ErrPermission) {
		t.Skipf("cannot run a copy of the test binary from %s as nobody (noexec mount?): %v", dir, err)
	}
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("the run as nobody did not run %s:\n%s", name, out)
	}
}
