package restore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13: the journal is missing, or a dangling symlink, while
// libreflash's boot configuration change is still there: status shows it,
// restore undoes it.
func TestOrphanedChangeFoundAndUndone(t *testing.T) {
	for _, tc := range []struct{ fam, how string }{
		{"debian", "missing"}, {"debian", "dangling"}, {"arch", "missing"}, {"arch", "dangling"}, {"openbsd", "missing"},
	} {
		t.Run(tc.fam+"/"+tc.how, func(t *testing.T) {
			f := familyNamed(tc.fam)
			e := newEnv(t, f)
			before := snapshotTree(t, e.root)
			e.prepare(t)
			jp := filepath.Join(e.state, "journal.json")
			os.Remove(jp)
			if tc.how == "dangling" {
				os.Symlink(filepath.Join(e.state, "gone.json"), jp)
			}
			st, err := e.m.Status()
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Pending) != 0 || len(st.Orphans) != 1 {
				t.Fatalf("status: pending %v, orphans %v", st.Pending, st.Orphans)
			}
			if tc.how == "dangling" && !strings.Contains(st.JournalNote, "symlink") {
				t.Errorf("journal note %q", st.JournalNote)
			}
			n := len(e.cmd.calls)
			res, err := e.m.Restore(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Undone) != 1 || !strings.HasPrefix(res.Undone[0].ID, "orphan:") {
				t.Errorf("undone %+v", res.Undone)
			}
			if tc.fam != "openbsd" && !strings.Contains(strings.Join(flat(e.cmd.calls[n:]), " "), "grub") {
				t.Errorf("grub.cfg not generated again: %v", e.cmd.calls[n:])
			}
			// The drop-in's directory was libreflash's too, but without the
			// journal nothing says so: it stays, empty.
			after := snapshotTree(t, e.root)
			delete(after, "etc/default/grub.d")
			delete(before, "etc/default/grub.d")
			diffTrees(t, before, after)
			if st, _ := e.m.Status(); len(st.Orphans) != 0 {
				t.Errorf("orphans after restore: %v", st.Orphans)
			}
		})
	}
}

func flat(calls [][]string) []string {
	var out []string
	for _, c := range calls {
		out = append(out, strings.Join(c, " "))
	}
	return out
}

// Without the journal, only the argument above libreflash's marker goes;
// the user's edits stay.
func TestOrphanedGrubEditKeepsUserEdits(t *testing.T) {
	e := newEnv(t, familyNamed("arch"))
	e.prepare(t)
	os.Remove(filepath.Join(e.state, "journal.json"))
	grub := filepath.Join(e.root, "etc/default/grub")
	b, _ := os.ReadFile(grub)
	edited := strings.Replace(string(b), `GRUB_CMDLINE_LINUX=""`, `GRUB_CMDLINE_LINUX="iomem=relaxed nomodeset"`, 1)
	os.WriteFile(grub, []byte(edited), 0o644)
	if _, err := e.m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(archGrub, `GRUB_CMDLINE_LINUX=""`, `GRUB_CMDLINE_LINUX="iomem=relaxed nomodeset"`, 1)
	if got, _ := os.ReadFile(grub); string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
