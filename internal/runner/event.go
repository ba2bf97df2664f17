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
	EvPhase                         // the kind of work changed within a stage (Event.Phase)
	EvRegionLocked                  // the chip's descriptor denies the host a region (Event.Region)
	EvIdentical                     // nothing to write: the chip already holds the image
	EvUntested                      // the flasher's "status UNTESTED" plea (Event.Text names the operations)
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
	EvPhase:        "phase",
	EvRegionLocked: "region_locked",
	EvIdentical:    "identical",
	EvUntested:     "untested",
}

// String returns the lower-case name used in goldens and JSON.
func (k EventKind) String() string {
	if k >= 0 && int(k) < len(eventKindNames) {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Stage is a flasher operation (Event.Stage) or a phase of one, the kind of
// work under way (Event.Phase). The values are stable names for JSON.
type Stage string

// Stages and phases reported by flashprog/flashrom.
const (
	StageProbe  Stage = "probe"
	StageRead   Stage = "read"
	StageErase  Stage = "erase"
	StageWrite  Stage = "write" // a stage: erase and program; a phase: program (or both, when the flasher does not say)
	StageVerify Stage = "verify"
	// StageEraseCheck is the phase in which the flasher reads erased
	// blocks back to check them (flashrom ≥1.4's READ bar inside a write).
	StageEraseCheck Stage = "erase_check"
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

	// Stage is the flasher operation under way: EvStageStart, EvStageEnd,
	// EvPhase, EvProgress ("" for a bar outside any stage).
	Stage Stage
	// Phase is the kind of work under way within Stage: EvStageStart (the
	// phase the stage line names), EvPhase, EvProgress. A write stage
	// goes through erase, erase_check and write phases when the flasher's
	// bars tell them apart, and stays in "write" when it does not.
	Phase Stage
	// Implicit marks an EvStageStart the flasher printed no line for
	// (flashrom ≥1.4 starts erasing and writing without one); Text is "".
	Implicit bool
	// FullRead marks an EvStageStart or EvPhase that begins a read of the
	// whole chip (or of the layout's regions): "Reading flash...",
	// "Reading old/current flash chip contents...", "Verifying flash...".
	FullRead bool
	OK       bool // EvStageEnd: the flasher said the stage succeeded, and nothing said it failed
	Percent  int  // EvProgress, 0..100
	Pass     int  // EvProgress: the run of the phase's bar within the stage, from 1
	ExitCode int  // EvExit

	// EvRegionLocked: the descriptor region ("Management Engine") and
	// whether it is "locked" or "read-only" to the host.
	Region string
	Access string
}
