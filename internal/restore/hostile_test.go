package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/statedir"
	"libreflash/internal/testutil"
)

// Issue 13: the journal names an action, never a program. A journal whose
// undo command names another (root-owned, safe) program with arguments of
// its choosing gets the tool prepare would use, found again, and nothing
// else.
func TestJournalNeverRunsItsCommands(t *testing.T) {
	for _, fam := range []string{"debian", "arch", "fedora"} {
		t.Run(fam, func(t *testing.T) {
			e := newEnv(t, familyNamed(fam))
			evil := filepath.Join(e.root, "usr/bin/evil")
			os.MkdirAll(filepath.Dir(evil), 0o755)
			if err := os.WriteFile(evil, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			e.prepare(t)
			jp := filepath.Join(e.state, "journal.json")
			b, _ := os.ReadFile(jp)
			j, err := ParseJournal(b)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, en := range j.Entries {
				for _, c := range en.Undo {
					want = append(want, filepath.Base(c.Tool))
				}
				if en.Action == ActionIomem && len(en.Undo) == 0 {
					t.Fatalf("%s: no undo command journaled to replace", fam)
				}
				for i := range en.Undo {
					en.Undo[i] = Command{Tool: "/usr/bin/evil", Args: []string{"-c", "touch /pwned"}}
				}
			}
			if err := j.save(jp); err != nil {
				t.Fatal(err)
			}
			n := len(e.cmd.calls)
			if _, err := e.m.Restore(context.Background()); err != nil {
				t.Fatal(err)
			}
			var ran []string
			for _, c := range e.cmd.calls[n:] {
				if strings.Contains(strings.Join(c, " "), "evil") || strings.Contains(strings.Join(c, " "), "pwned") {
					t.Errorf("restore ran the journal's program: %q", c)
				}
				ran = append(ran, filepath.Base(c[0]))
			}
			for _, w := range want {
				if !strings.Contains(strings.Join(ran, " "), w) {
					t.Errorf("restore ran %v, want %s (found again as prepare found it)", ran, w)
				}
			}
		})
	}
}

// A journal that names files, modules, modes or arguments its action would
// never touch is refused whole.
func TestJournalRejectsForeignTargets(t *testing.T) {
	good, err := os.ReadFile("testdata/journals/debian.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseJournal(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(string) string{
		"other file": func(s string) string {
			return strings.Replace(s, `"path": "/etc/default/grub.d/99-libreflash.cfg"`, `"path": "/etc/shadow"`, 1)
		},
		"other dir": func(s string) string {
			return strings.Replace(s, `"/etc/default/grub.d"
          ]`, `"/etc"
          ]`, 1)
		},
		"fallback": func(s string) string { return strings.Replace(s, `"fallback": "delete"`, `"fallback": "line"`, 1) },
		"module": func(s string) string {
			return strings.Replace(s, `"lpc_ich"`, `"ext4"`, 1)
		},
		"backend": func(s string) string { return strings.Replace(s, `"backend": "grub-dropin"`, `"backend": "sh"`, 1) },
		"param": func(s string) string {
			return strings.Replace(s, `"param": "iomem=relaxed"`, `"param": "init=/bin/sh"`, 1)
		},
		"setuid": func(s string) string { return strings.Replace(s, `"mode": 420`, `"mode": 2541`, 1) },
		"huge":   func(s string) string { return s + strings.Repeat(" ", MaxJournalSize) },
	} {
		bad := mut(string(good))
		if bad == string(good) {
			t.Fatalf("%s: mutation did not apply to\n%s", name, good)
		}
		if _, err := ParseJournal([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Issue 13: a state directory another user prepared, with a journal that
// would have root write any file, is refused before it is read: status and
// restore exit 3 with a hint and run nothing.
func TestHostileStateDirRestore(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	e.prepare(t)
	journal, _ := os.ReadFile(filepath.Join(e.state, "journal.json"))
	top := testutil.HostileDir(t)
	pub := filepath.Join(top, "pub")
	os.Mkdir(pub, 0o777)
	os.Chmod(pub, 0o777|os.ModeSticky)
	os.WriteFile(filepath.Join(top, "journal.in"), journal, 0o644)
	testutil.HostileShell(t, pub, "mkdir -m 700 lf && cp ../journal.in lf/journal.json")
	m := e.manager()
	m.StateDir = filepath.Join(pub, "lf")
	n := len(e.cmd.calls)
	before := snapshotTree(t, e.root)
	_, err := m.Restore(context.Background())
	var ue *statedir.UnsafeError
	if !errors.As(err, &ue) || ue.ExitCode() != 3 {
		t.Fatalf("restore from another user's state directory: %v", err)
	}
	if _, err := m.Status(); !errors.As(err, &ue) {
		t.Errorf("status: %v", err)
	}
	if _, err := m.PlanActions(context.Background(), e.actions()); !errors.As(err, &ue) {
		t.Errorf("prepare: %v", err)
	}
	if len(e.cmd.calls) != n {
		t.Errorf("ran %v", e.cmd.calls[n:])
	}
	diffTrees(t, before, snapshotTree(t, e.root))
}
