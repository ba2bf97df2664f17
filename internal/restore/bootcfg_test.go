package restore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13: the in-place GRUB edit changes the assignment that takes
// effect, or refuses when it cannot tell.
func TestGrubEffective(t *testing.T) {
	const v = grubVarDefault
	for _, tc := range []struct {
		name, src string
		ambiguous bool
	}{
		{"plain", v + "=\"a\"\n", false},
		{"later wins", v + "=\"a\"\n" + v + "=\"b\"\n", false},
		{"other var in if", "if true; then GRUB_TIMEOUT=1; fi\n" + v + "=\"a\"\n", false},
		{"export naked", v + "=\"a\"\nexport " + v + "\n", false},
		{"if/else", v + "=\"a\"\nif [ -e /x ]; then\n  " + v + "=\"b\"\nelse\n  " + v + "=\"c\"\nfi\n", true},
		{"function", "f() { " + v + "=\"b\"; }\n" + v + "=\"a\"\nf\n", true},
		{"unset", v + "=\"a\"\nunset " + v + "\n", true},
		{"and list", "true && " + v + "=\"b\"\n", true},
		{"source", v + "=\"a\"\n. /etc/default/grub.local\n", true},
		{"readonly", "readonly " + v + "=\"a\"\n", true},
		{"default expansion", ": ${" + v + ":=quiet}\n", true},
		{"subshell", "(" + v + "=\"b\")\n" + v + "=\"a\"\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := addGrubArg([]byte(tc.src), iomemParam)
			var amb *AmbiguousGrubError
			if tc.ambiguous {
				if !errors.As(err, &amb) {
					t.Fatalf("got %v (%q), want *AmbiguousGrubError", err, out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkShell(t, out, "")
		})
	}
}

// grubMkconfigReadingDropins is the line of Debian's grub-mkconfig that
// sources the drop-ins.
const grubMkconfigReadingDropins = "#!/bin/sh\nfor x in ${sysconfdir}/default/grub.d/*.cfg ; do\n  if [ -e \"${x}\" ]; then . \"${x}\"; fi\ndone\n"

// When it cannot tell, libreflash uses the drop-in where grub-mkconfig
// reads drop-ins, and otherwise asks the user, changing nothing.
func TestGrubAmbiguous(t *testing.T) {
	ambiguous := strings.Replace(archGrub, "GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"",
		"if [ -e /etc/lf-debug ]; then\n  GRUB_CMDLINE_LINUX_DEFAULT=\"debug\"\nelse\n  GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"\nfi", 1)
	for _, dropins := range []bool{true, false} {
		f := familyNamed("arch")
		f.files = map[string]string{}
		for k, v := range familyNamed("arch").files {
			f.files[k] = v
		}
		f.files["/etc/default/grub"] = ambiguous
		e := newEnv(t, f)
		if dropins {
			writeT(t, filepath.Join(e.root, "usr/bin/grub-mkconfig"), grubMkconfigReadingDropins, 0o755)
		}
		before := snapshotTree(t, e.root)
		p, err := e.m.PlanActions(context.Background(), []string{ActionIomem})
		if err != nil {
			t.Fatal(err)
		}
		s := p.Steps[0]
		if !dropins {
			if s.Status != "manual" || !strings.Contains(s.Summary, "cannot tell") {
				t.Errorf("without drop-ins: %+v", s)
			}
			continue
		}
		if s.Status != "planned" || s.Backend != BackendGrubDropin {
			t.Fatalf("with drop-ins: %+v", s)
		}
		if err := e.m.Apply(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		if e.cmd.read("/etc/default/grub") != ambiguous || e.cmd.read(grubDropinPath) != grubDropin {
			t.Errorf("edited the ambiguous file, or no drop-in")
		}
		if _, err := e.m.Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		diffTrees(t, before, snapshotTree(t, e.root))
		if _, err := os.Stat(filepath.Join(e.root, "etc/default/grub.d")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("grub.d left behind: %v", err)
		}
	}
}

// Issue 13: restore keeps a symlinked /etc/default/grub a symlink, and its
// target's mode.
func TestSymlinkedGrubKept(t *testing.T) {
	e := newEnv(t, familyNamed("arch"))
	grub := filepath.Join(e.root, "etc/default/grub")
	real := filepath.Join(e.root, "etc/grub.conf.d/grub")
	os.MkdirAll(filepath.Dir(real), 0o755)
	if err := os.Rename(grub, real); err != nil {
		t.Fatal(err)
	}
	os.Chmod(real, 0o600)
	os.Symlink("../grub.conf.d/grub", grub)
	isLink := func(when string) {
		t.Helper()
		fi, err := os.Lstat(grub)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s: /etc/default/grub is no longer a symlink: %v %v", when, fi.Mode(), err)
		}
		fi, err = os.Stat(real)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: target mode %v %v", when, fi.Mode(), err)
		}
	}
	before := snapshotTree(t, e.root)
	e.prepare(t)
	isLink("after prepare")
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), "iomem=relaxed") {
		t.Errorf("target not edited:\n%s", b)
	}
	if _, err := e.m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	isLink("after restore")
	diffTrees(t, before, snapshotTree(t, e.root))
}

// Issue 13: restore never removes an iomem=relaxed the user had before,
// even when the file was edited since and only libreflash's own change may
// be taken out.
func TestUsersIomemKept(t *testing.T) {
	f := familyNamed("arch")
	f.files = map[string]string{}
	for k, v := range familyNamed("arch").files {
		f.files[k] = v
	}
	// An earlier assignment with it, overridden by the one that counts.
	orig := strings.Replace(archGrub, "GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"",
		"GRUB_CMDLINE_LINUX_DEFAULT=\"iomem=relaxed\"\nGRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"", 1)
	f.files["/etc/default/grub"] = orig
	e := newEnv(t, f)
	p := e.prepare(t)
	if p.Steps[0].Status != "applied" || p.Steps[0].Backend != BackendGrubEdit {
		t.Fatalf("step %+v", p.Steps[0])
	}
	grub := filepath.Join(e.root, "etc/default/grub")
	b, _ := os.ReadFile(grub)
	os.WriteFile(grub, append(b, "# the user's own later edit\n"...), 0o644)
	if _, err := e.m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := orig + "# the user's own later edit\n"
	if got, _ := os.ReadFile(grub); string(got) != want {
		t.Errorf("after restore:\n%s\nwant\n%s", got, want)
	}
}

// Issue 13: a crash while prepare writes the drop-in leaves no temporary
// file in /etc/default/grub.d, where grub-mkconfig sources every *.cfg.
func TestCrashLeavesNoTempFile(t *testing.T) {
	for _, fam := range []string{"debian", "arch"} {
		e := newEnv(t, familyNamed(fam))
		before := snapshotTree(t, e.root)
		spec, _ := json.Marshal(crashSpec{Family: fam, Root: e.root, State: e.state, Op: "prepare", Step: "file-temp"})
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != crashExit {
			t.Fatalf("%s: no crash with the new content written but not yet in place: %v\n%s", fam, err, out)
		}
		for _, d := range []string{"etc/default/grub.d", "etc/default"} {
			ents, _ := os.ReadDir(filepath.Join(e.root, d))
			for _, en := range ents {
				if n := en.Name(); n != "grub" && n != "grub.d" {
					t.Errorf("%s: %s/%s left by the crash", fam, d, n)
				}
			}
		}
		if _, err := e.manager().Restore(context.Background()); err != nil {
			t.Fatal(err)
		}
		diffTrees(t, before, snapshotTree(t, e.root))
	}
}

// A crash between linking the new /etc/default/grub to its temporary name
// and the rename leaves that temporary file beside it (Linux cannot link
// over a file): restore removes it, and nothing that only looks like it
// (another file's, a wrong name, a directory, someone else's).
func TestCrashAfterLinkTempRemoved(t *testing.T) {
	e := newEnv(t, familyNamed("arch"))
	dir := filepath.Join(e.root, "etc/default")
	keep := []string{".grub.libreflash-0123456789abcdeg.tmp", ".grub.libreflash-0123.tmp", ".grub.d.libreflash-0123456789abcdef.tmp",
		"grub.libreflash-0123456789abcdef.tmp", ".grub.libreflash-0123456789abcdef.tmp.bak"}
	for _, n := range keep {
		writeT(t, filepath.Join(dir, n), "not libreflash's\n", 0o644)
	}
	others := filepath.Join(dir, ".grub.libreflash-fedcba9876543210.tmp")
	writeT(t, others, "someone else's\n", 0o644)
	if err := os.Chown(others, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	asDir := filepath.Join(dir, ".grub.libreflash-aaaaaaaaaaaaaaaa.tmp")
	if err := os.Mkdir(asDir, 0o755); err != nil {
		t.Fatal(err)
	}
	before := snapshotTree(t, e.root)
	spec, _ := json.Marshal(crashSpec{Family: "arch", Root: e.root, State: e.state, Op: "prepare", Step: "file-linked"})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != crashExit {
		t.Fatalf("no crash between link and rename: %v\n%s", err, out)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".grub.libreflash-????????????????.tmp"))
	if len(left) != 4 { // the crash's, a non-hex lookalike, someone else's, the directory
		t.Fatalf("after the crash: %q, want the crash's temporary file beside three lookalikes", left)
	}
	if _, err := e.manager().Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, before, snapshotTree(t, e.root))
}
