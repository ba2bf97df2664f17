package statedir

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// RunState is $STATE/runs/<UTC timestamp>/state.json: how far a backup or
// install got. It is rewritten at every stage, so a run killed outright
// (kill -9, power cut) leaves the truth behind: the next run reads it to
// say where the previous one stopped and which backup is the way back.
type RunState struct {
	Command string    `json:"command"` // install or backup
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	ROM     string    `json:"rom,omitempty"`
	Stage   string    `json:"stage"`  // the last stage started
	Status  string    `json:"status"` // its status
	// Backup is the way back: the chip as it was before this run's first
	// write (for a run after an interrupted write, the interrupted run's
	// backup).
	Backup *RunBackup `json:"backup,omitempty"`
	// Snapshot is a verified double read of a chip an earlier run left in
	// an unknown state: kept, never the way back.
	Snapshot *RunBackup `json:"snapshot,omitempty"`
	Finished bool       `json:"finished"`
	Result   string     `json:"result,omitempty"`
	Exit     int        `json:"exit"`
	// ResolvedBy names the later run that brought the chip to a known
	// state after this one stopped unfinished.
	ResolvedBy string `json:"resolved_by,omitempty"`
}

// RunBackup names a verified backup in a run's state.
type RunBackup struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Dir    string `json:"dir,omitempty"`
}

// RunStateFile is the name of a run's state file.
const RunStateFile = "state.json"

// maxRunState bounds what is read of a state.json.
const maxRunState = 1 << 20

// ReadRun reads the state of the run in dir.
func ReadRun(dir string) (RunState, error) {
	var st RunState
	f, err := os.Open(filepath.Join(dir, RunStateFile))
	if err != nil {
		return st, err
	}
	defer f.Close()
	err = json.NewDecoder(io.LimitReader(f, maxRunState)).Decode(&st)
	return st, err
}

// WriteRun replaces the state of the run in dir atomically; durable also
// syncs it to disk (before a write of the chip: a power cut must not lose
// where the way back is), which costs a disk flush.
func WriteRun(dir string, st RunState, durable bool) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	return WriteFile(filepath.Join(dir, RunStateFile), b, durable)
}

// Run is one run directory and its state.
type Run struct {
	Dir       string   `json:"dir"`
	Rehearsal bool     `json:"rehearsal"` // under $STATE/rehearsals
	State     RunState `json:"state"`
	// Readable: state.json was there and parsed (runs of older versions
	// have none).
	Readable bool `json:"readable"`
}

// ListRuns lists the runs of the state directory and of its rehearsals,
// newest first (run directories are named by their UTC start time).
func ListRuns(stateDir string) []Run {
	var out []Run
	for _, src := range []struct {
		dir       string
		rehearsal bool
	}{{Runs(stateDir), false}, {Runs(Rehearsals(stateDir)), true}} {
		ents, err := os.ReadDir(src.dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			r := Run{Dir: filepath.Join(src.dir, e.Name()), Rehearsal: src.rehearsal}
			st, err := ReadRun(r.Dir)
			r.State, r.Readable = st, err == nil
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return filepath.Base(out[i].Dir) > filepath.Base(out[j].Dir)
	})
	return out
}

// Rehearsals is where rehearsals keep their own state directory.
func Rehearsals(stateDir string) string { return filepath.Join(stateDir, "rehearsals") }
