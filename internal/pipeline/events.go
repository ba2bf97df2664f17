// Package pipeline owns libreflash's orchestrations (backup; later install):
// it runs the checks, the flasher and the bookkeeping in order, and tells
// what happens through one stream of Events. It never prints: the command
// layer renders the events (bars, plain lines or JSON lines).
package pipeline

import (
	"encoding/json"

	"io"
	"libreflash/internal/diagnose"
	"sync"
	"time"
)

// Event types (docs/design.md).
const (
	TypeStage    = "stage"    // a pipeline stage starts or ends
	TypeProgress = "progress" // a flasher operation starts, advances or ends
	TypeFinding  = "finding"  // a diagnosis of flasher output
	TypeLog      = "log"      // a message for the user
	TypeSummary  = "summary"  // last event: the outcome
)

// Stage statuses.
const (
	StatusStart = "start"
	StatusOK    = "ok"
	StatusFail  = "fail"
	StatusSkip  = "skip"
)

// Results of a run (summary.result).
const (
	ResultOK        = "ok"
	ResultBlocked   = "blocked"
	ResultCancelled = "cancelled"
	ResultFailed    = "failed" // an unexpected error (exit 1)
)

// Event is one line of the event stream. Which fields are set depends on
// Type; JSON field names are a contract (docs/design.md).
type Event struct {
	Type string    `json:"type"`
	Time time.Time `json:"time"`

	// stage
	Stage  string `json:"stage,omitempty"`  // check, plan, lock, backup, write, verify, restore
	Status string `json:"status,omitempty"` // stage: start, ok, fail, skip; progress: start, ok, fail

	// progress: a flasher operation. Percent is set only when the flasher
	// reports one (never invented); Elapsed is always set.
	Op      string  `json:"op,omitempty"` // read, erase, write, verify
	Pass    int     `json:"pass,omitempty"`
	Passes  int     `json:"passes,omitempty"`
	Percent *int    `json:"percent,omitempty"`
	Elapsed float64 `json:"elapsed,omitempty"` // seconds since the operation started

	// log
	Level   string `json:"level,omitempty"` // info, warn, error
	Message string `json:"message,omitempty"`

	// finding
	*Finding

	// summary
	*Summary
}

// Finding is a diagnosed cause of a flasher failure.
type Finding = diagnose.Finding

// Summary is the outcome of a run, sent last.
type Summary struct {
	Result    string     `json:"result"`
	Exit      int        `json:"exit"`
	Backup    *BackupRef `json:"backup,omitempty"`
	Chip      *ChipRef   `json:"chip,omitempty"`
	ChipReads int        `json:"chip_reads"`
	Log       string     `json:"log,omitempty"`
	Events    string     `json:"events,omitempty"`
	Error     string     `json:"error,omitempty"`
	Hint      string     `json:"hint,omitempty"`
	// Seconds is the run's wall time (install).
	Seconds float64 `json:"seconds,omitempty"`
	// Rehearsal: the run wrote an emulated chip only (install --rehearse).
	Rehearsal bool `json:"rehearsal,omitempty"`
	// Next lists what the user should do now, in order (install).
	Next []string `json:"next,omitempty"`
}

// BackupRef names a verified backup.
type BackupRef struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Dir    string `json:"dir,omitempty"`
}

// ChipRef is the chip as the flasher names it.
type ChipRef struct {
	Vendor string `json:"vendor,omitempty"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
}

// Sink receives events in order. It is called from one goroutine at a
// time, but not always the same one.
type Sink func(Event)

// Percent returns a pointer for Event.Percent.
func Percent(p int) *int { return &p }

// JSONLines returns a Sink writing one JSON object per line to w, safe for
// concurrent use. Write errors are dropped: a broken event log must not
// break a flash.
func JSONLines(w io.Writer) Sink {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		_ = enc.Encode(e)
	}
}

// Tee sends each event to every non-nil sink, in order.
func Tee(sinks ...Sink) Sink {
	return func(e Event) {
		for _, s := range sinks {
			if s != nil {
				s(e)
			}
		}
	}
}
