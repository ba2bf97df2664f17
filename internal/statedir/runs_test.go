package statedir

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// ListRuns lists runs and rehearsals newest first, from their state.json;
// a run without one (an older version's) is listed as unreadable.
func TestListRuns(t *testing.T) {
	state := t.TempDir()
	mk := func(dir string, st *RunState) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if st != nil {
			if err := WriteRun(dir, *st, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(filepath.Join(Runs(state), "20260101T000000Z"), &RunState{Command: "install", Stage: "write", Status: "start", Started: time.Unix(1, 0).UTC()})
	mk(filepath.Join(Runs(state), "20260102T000000Z"), &RunState{Command: "backup", Finished: true, Result: "ok"})
	mk(filepath.Join(Runs(Rehearsals(state)), "20260103T000000Z"), &RunState{Command: "install", Finished: true, Result: "ok"})
	mk(filepath.Join(Runs(state), "20250101T000000Z"), nil)
	runs := ListRuns(state)
	var got []string
	for _, r := range runs {
		got = append(got, filepath.Base(r.Dir)+" "+r.State.Command)
	}
	want := []string{"20260103T000000Z install", "20260102T000000Z backup", "20260101T000000Z install", "20250101T000000Z "}
	if len(got) != len(want) {
		t.Fatalf("runs %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("run %d: %q, want %q", i, got[i], want[i])
		}
	}
	if !runs[0].Rehearsal || runs[1].Rehearsal || !runs[2].Readable || runs[3].Readable {
		t.Errorf("runs %+v", runs)
	}
	if runs[2].State.Finished || runs[2].State.Stage != "write" {
		t.Errorf("unfinished install %+v", runs[2].State)
	}
}
