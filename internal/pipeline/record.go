package pipeline

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"libreflash/internal/statedir"
)

// record is one run's record, the same for backup and install, under
// $STATE/runs/<UTC timestamp>/: the flasher's full output (flasher.log),
// every event (events.jsonl) and state.json (statedir.RunState), which
// says how far the run got. A run killed outright (kill -9, power loss)
// leaves state.json unfinished; the next run reads it and tells the user
// where the previous one stopped and which verified backup is the way back.
type record struct {
	dir        string
	logPath    string
	eventsPath string
	log        *os.File

	mu     sync.Mutex
	events *os.File
	enc    *json.Encoder
	state  statedir.RunState
}

// newRecord creates a fresh run directory (0700) under stateDir's runs/.
func newRecord(stateDir, command string, start time.Time, rom string) (*record, error) {
	runs := statedir.Runs(stateDir)
	if err := statedir.Ensure(runs); err != nil {
		return nil, err
	}
	dir, err := mkdirNew(runs, stamp(start))
	if err != nil {
		return nil, fmt.Errorf("create run directory: %w", err)
	}
	r := &record{dir: dir, logPath: filepath.Join(dir, "flasher.log"), eventsPath: filepath.Join(dir, "events.jsonl")}
	if r.log, err = statedir.CreateFile(r.logPath); err != nil {
		return nil, err
	}
	if r.events, err = statedir.CreateFile(r.eventsPath); err != nil {
		r.log.Close()
		return nil, err
	}
	r.enc = json.NewEncoder(r.events)
	r.enc.SetEscapeHTML(false)
	r.state = statedir.RunState{Command: command, Started: start.UTC(), PID: os.Getpid(), ROM: rom}
	r.save(false)
	return r, nil
}

// write appends e to events.jsonl; state.json follows the stages and the
// summary, so that what a crash leaves behind is true. The stages that
// touch the chip, and the end, are synced to disk as well: a power cut
// during a write must leave the record of it (flushing at every stage
// would cost more than the checks themselves).
func (r *record) write(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.events == nil {
		return
	}
	_ = r.enc.Encode(e)
	switch d := e.Data.(type) {
	case *Stage:
		r.state.Stage, r.state.Status = d.Stage, d.Status
		r.save(d.Status == StatusStart && (d.Stage == StageWrite || d.Stage == StageRollback))
	case *Summary:
		r.state.Finished, r.state.Result, r.state.Exit = true, d.Result, d.Exit
		r.save(true)
	}
}

// setBackups records the way back (and the snapshot, when the chip was in
// an unknown state before this run) in state.json.
func (r *record) setBackups(back, snapshot *BackupRef) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state.Backup, r.state.Snapshot = runBackup(back), runBackup(snapshot)
	r.save(true)
}

func runBackup(b *BackupRef) *statedir.RunBackup {
	if b == nil {
		return nil
	}
	return &statedir.RunBackup{Path: b.Path, SHA256: b.SHA256, Dir: b.Dir}
}

func backupRef(b *statedir.RunBackup) *BackupRef {
	if b == nil {
		return nil
	}
	return &BackupRef{Path: b.Path, SHA256: b.SHA256, Dir: b.Dir}
}

// save writes state.json; durable also flushes it, events.jsonl and
// flasher.log to disk.
func (r *record) save(durable bool) {
	if durable {
		_ = r.events.Sync()
		_ = r.log.Sync()
	}
	_ = statedir.WriteRun(r.dir, r.state, durable)
}

func (r *record) close() {
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

// stream sends events to the caller's sink and to the run's record, in
// order; events before the record exists are kept and written into it
// when it does.
type stream struct {
	sink Sink
	now  func() time.Time

	mu      sync.Mutex
	pending []Event
	rec     *record
}

func (s *stream) emit(e Event) {
	if e.Time.IsZero() {
		now := time.Now
		if s.now != nil {
			now = s.now
		}
		e.Time = now().UTC()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec != nil {
		s.rec.write(e)
	} else {
		s.pending = append(s.pending, e)
	}
	if s.sink != nil {
		s.sink(e)
	}
}

// attach writes the events so far into r and sends the rest there too.
func (s *stream) attach(r *record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.pending {
		r.write(e)
	}
	s.pending, s.rec = nil, r
}

// previousRun returns the newest run in stateDir (rehearsals have their
// own), other than self, that did not finish and that no later run
// resolved: a later backup does not hide it. ok is false when there is none.
func previousRun(stateDir, self string) (run statedir.Run, ok bool) {
	for _, r := range statedir.ListRuns(stateDir) {
		if r.Rehearsal || r.Dir == self || !r.Readable || r.State.Finished || r.State.ResolvedBy != "" {
			continue
		}
		return r, true
	}
	return statedir.Run{}, false
}

// previousEvent is the previous_run event for r.
func previousEvent(r statedir.Run) *PreviousRun {
	st := r.State
	return &PreviousRun{Dir: r.Dir, Started: st.Started, PID: st.PID, Stage: st.Stage, Status: st.Status,
		Writing: st.Stage == StageWrite || st.Stage == StageRollback || st.Stage == StageVerify,
		Backup:  backupRef(st.Backup)}
}

// resolve marks an unfinished earlier run as dealt with by the run in dir:
// the chip is in a known state again.
func resolve(prev statedir.Run, by string) {
	st, err := statedir.ReadRun(prev.Dir)
	if err != nil {
		return
	}
	st.ResolvedBy = by
	if !st.Finished {
		st.Result = "interrupted"
	}
	_ = statedir.WriteRun(prev.Dir, st, true)
}
