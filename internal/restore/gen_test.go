package restore

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/journals from real prepare runs")

// TestJournalSeeds keeps testdata/journals (seeds of FuzzParseJournal)
// readable by the current reader; -update regenerates them from prepare runs
// on the fake roots.
func TestJournalSeeds(t *testing.T) {
	for _, name := range []string{"debian", "arch", "fedora", "sdboot-entries", "netbsd"} {
		p := filepath.Join("testdata", "journals", name+".json")
		if *update {
			e := newEnv(t, familyNamed(name))
			e.prepare(t)
			b, err := os.ReadFile(filepath.Join(e.state, "journal.json"))
			if err != nil {
				t.Fatal(err)
			}
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseJournal(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
