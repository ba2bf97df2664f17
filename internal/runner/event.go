package runner

import "fmt"

// EventKind says what a flasher output event means.
type EventKind int

// Event kinds, in roughly the order a flasher run produces them.
const (
	EvBanner       EventKind = iota // flasher name and version line
	EvChip                          // chip found, used or assumed (Event.Chip)
	EvStageStart                    // a stage begins (Event.Stage)
	EvStageEnd                      // a stage ends (Event.Stage, Event.OK)
	EvProgress                      // percentage within the current stage
	EvWarning                       // a warning line
	EvError                         // an error line
	EvUnknownState                  // "Your flash chip is in an unknown state"
	EvUnchanged                     // writing apparently did not change the chip
	EvLine                          // any other non-empty output line
	EvExit                          // the flasher exited (Event.ExitCode)
)

var eventKindNames = [...]string{
	EvBanner:       "banner",
	EvChip:         "chip",
	EvStageStart:   "stage_start",
	EvStageEnd:     "stage_end",
	EvProgress:     "progress",
	EvWarning:      "warning",
	EvError:        "error",
	EvUnknownState: "unknown_state",
	EvUnchanged:    "unchanged",
	EvLine:         "line",
	EvExit:         "exit",
}

// String returns the lower-case name used in goldens and JSON.
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Stage is one phase of a flasher operation.
type Stage string

// Stages reported by flashprog/flashrom.
const (
	StageProbe  Stage = "probe"
	StageRead   Stage = "read"
	StageErase  Stage = "erase"
	StageWrite  Stage = "write"
	StageVerify Stage = "verify"
)

// Chip is a flash chip as the flasher names it.
type Chip struct {
	Vendor    string
	Name      string
	SizeBytes int64
	Bus       string
}

// Event is one typed observation of flasher output.
type Event struct {
	Kind   EventKind
	Stream string // "stdout" or "stderr"
	Line   int    // 1-based; see Parser for how lines are counted
	Text   string // the line, cleaned (no control sequences, valid UTF-8)

	FlasherKind string // EvBanner: "flashprog" or "flashrom"
	Version     string // EvBanner

	// EvChip. flashrom and flashprog ≤1.5 print one per candidate before
	// "Multiple flash chip definitions match" (an EvError).
	Chip *Chip

	Stage    Stage // EvStageStart, EvStageEnd, EvProgress
	OK       bool  // EvStageEnd
	Percent  int   // EvProgress, 0..100
	ExitCode int   // EvExit
}
