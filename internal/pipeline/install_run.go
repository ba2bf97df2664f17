package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/google/renameio/v2"
)

// runDir is one install's record under $STATE/runs/<UTC timestamp>/: the
// flasher's full output (flasher.log), every event (events.jsonl) and
// state.json, which says how far the run got. A run killed outright
// (kill -9, power loss) leaves state.json unfinished; the next run reads
// it and tells the user where the previous one stopped and where its
// verified backup is.
type runDir struct {
	dir        string
	logPath    string
	eventsPath string
	log        *os.File

	mu     sync.Mutex
	events *os.File
	enc    *json.Encoder
	state  runState
}

// runState is state.json.
type runState struct {
	Started  time.Time  `json:"started"`
	PID      int        `json:"pid"`
	ROM      string     `json:"rom"`
	Stage    string     `json:"stage"`  // the last stage started
	Status   string     `json:"status"` // its status
	Backup   *BackupRef `json:"backup,omitempty"`
	Finished bool       `json:"finished"`
	Result   string     `json:"result,omitempty"`
	Exit     int        `json:"exit"`
}

const runTimeFormat = "20060102T150405Z"

// newRunDir creates a fresh run directory (0700) under runs.
func newRunDir(runs string, start time.Time, rom string) (*runDir, error) {
	if err := os.MkdirAll(runs, 0o700); err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	base := filepath.Join(runs, start.UTC().Format(runTimeFormat))
	dir := base
	for i := 2; ; i++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !os.IsExist(err) || i > 100 {
			return nil, fmt.Errorf("create run directory: %w", err)
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
	r := &runDir{dir: dir, logPath: filepath.Join(dir, "flasher.log"), eventsPath: filepath.Join(dir, "events.jsonl")}
	var err error
	if r.log, err = os.OpenFile(r.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	if r.events, err = os.OpenFile(r.eventsPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600); err != nil {
		r.log.Close()
		return nil, err
	}
	r.enc = json.NewEncoder(r.events)
	r.enc.SetEscapeHTML(false)
	r.state = runState{Started: start.UTC(), PID: os.Getpid(), ROM: rom}
	r.saveState()
	return r, nil
}

// record appends e to events.jsonl. Stage changes and the summary are
// synced to disk, and state.json follows them, so that what a crash leaves
// behind is true.
func (r *runDir) record(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		return
	}
	_ = r.enc.Encode(e)
	switch d := e.Data.(type) {
	case *Stage:
		_ = r.events.Sync()
		_ = r.log.Sync()
		r.state.Stage, r.state.Status = d.Stage, d.Status
		r.saveState()
	case *Summary:
		_ = r.events.Sync()
		_ = r.log.Sync()
		r.state.Finished, r.state.Result, r.state.Exit = true, d.Result, d.Exit
		r.saveState()
	}
}

// setBackup records the verified backup in state.json.
func (r *runDir) setBackup(b *BackupRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Backup = b
	r.saveState()
}

func (r *runDir) saveState() {
	b, err := json.MarshalIndent(r.state, "", "  ")
	if err != nil {
		return
	}
	_ = renameio.WriteFile(filepath.Join(r.dir, "state.json"), append(b, '\n'), 0o600)
}

func (r *runDir) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events != nil {
		r.events.Close()
		r.events = nil
	}
	if r.log != nil {
		r.log.Close()
	}
}

// previousRun returns the newest earlier run under runs that did not
// finish, with its directory; ok is false when there is none.
func previousRun(runs string) (st runState, dir string, ok bool) {
	entries, err := os.ReadDir(runs)
	if err != nil {
		return st, "", false
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return st, "", false
	}
	sort.Strings(names)
	dir = filepath.Join(runs, names[len(names)-1])
	b, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if err != nil || json.Unmarshal(b, &st) != nil || st.Finished {
		return runState{}, "", false
	}
	return st, dir, true
}

// reportPrevious tells the user about an earlier run that never finished:
// the lock it held died with it, but the chip may be half-written.
func (in *installer) reportPrevious() {
	st, dir, ok := previousRun(filepath.Join(in.stateDir, "runs"))
	if !ok {
		return
	}
	in.emit(Event{Data: &PreviousRun{Dir: dir, Started: st.Started, PID: st.PID, Stage: st.Stage, Status: st.Status,
		Writing: st.Stage == StageWrite || st.Stage == StageRollback || st.Stage == StageVerify, Backup: st.Backup}})
	// Mark it reported, so the next run does not repeat it.
	st.Finished, st.Result = true, "interrupted"
	if b, err := json.MarshalIndent(st, "", "  "); err == nil {
		_ = renameio.WriteFile(filepath.Join(dir, "state.json"), append(b, '\n'), 0o600)
	}
}
