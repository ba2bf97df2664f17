// Package pipeline owns libreflash's orchestrations (backup and install):
// it runs the checks, the flasher and the bookkeeping in order, and tells
// what happens through one stream of typed Events. It never prints and
// builds no sentences: every event is data (IDs, paths, numbers, and the
// words of the checks, the image checks and the flasher, passed on whole),
// and the command layer renders them (bars, plain lines or JSON lines).
package pipeline

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"libreflash/internal/archive"
	"libreflash/internal/diagnose"
	"libreflash/internal/restore"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
)

// Schema is the version of the event stream's JSON shape, sent as "schema"
// on every line. Version 1 was the first contract (docs/design.md, with prose
// "log" events); 2 has typed payloads only.
const Schema = 2

// Event types: the "type" of each JSON line, one per payload.
const (
	TypeStage         = "stage"           // *Stage: a pipeline stage starts or ends
	TypeProgress      = "progress"        // *Progress: a flasher operation starts, advances or ends
	TypeCheck         = "check"           // *Check: one machine or image check
	TypePlan          = "plan"            // *Plan: what the run will do
	TypeFinding       = "finding"         // *Finding: a diagnosed cause, whole
	TypePrepare       = "prepare"         // *Prepare: reversible changes planned or made
	TypeFlasher       = "flasher"         // *FlasherInfo: the flasher found
	TypeFlasherOutput = "flasher_message" // *FlasherMessage: a warning or error line of the flasher
	TypeStrays        = "flasher_strays"  // *Strays: a flasher run left processes behind
	TypeSignal        = "signal"          // *Signal: a stop signal received while the chip was busy
	TypePreviousRun   = "previous_run"    // *PreviousRun: an earlier run that did not finish
	TypeBackup        = "backup"          // *VerifiedBackup: a verified double read kept
	TypeBackupCheck   = "backup_check"    // *BackupCheck: a backup checked against its recorded sha256 before it is relied on
	TypeVerify        = "verify"          // *Verify: libreflash compared the chip with what it should hold
	TypeChipState     = "chip_state"      // *ChipState: what the chip holds after a failure, and why we know
	TypeRestore       = "restore"         // *Restore: what restoring the protections undid
	TypeMAC           = "mac"             // *MACEvent: the MAC address the written image carries
	TypeUnlock        = "unlock"          // *Unlock: what a run of the unlock tool did
	TypeSummary       = "summary"         // *Summary: last event, the outcome
)

// EventTypes lists every event type, for the schema documentation's test.
var EventTypes = []string{TypeStage, TypeProgress, TypeCheck, TypePlan, TypeFinding, TypePrepare,
	TypeFlasher, TypeFlasherOutput, TypeStrays, TypeSignal, TypePreviousRun, TypeBackup, TypeBackupCheck, TypeVerify,
	TypeChipState, TypeRestore, TypeMAC, TypeUnlock, TypeSummary}

// Stage and progress statuses.
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

// Payload is the typed content of an event.
type Payload interface {
	// EventType is the event's "type" in JSON.
	EventType() string
}

// Event is one line of the event stream: a time and one typed payload.
// In JSON the payload's fields sit beside "schema", "type" and "time"
// (docs/design.md: {"type":"progress","op":"write","percent":42}).
type Event struct {
	Time time.Time
	Data Payload
}

// Type is the event's type, "" for an empty event.
func (e Event) Type() string {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// MarshalJSON writes {"schema":2,"type":…,"time":…, payload fields…}.
func (e Event) MarshalJSON() ([]byte, error) {
	head, err := json.Marshal(struct {
		Schema int       `json:"schema"`
		Type   string    `json:"type"`
		Time   time.Time `json:"time"`
	}{Schema, e.Type(), e.Time})
	if err != nil || e.Data == nil {
		return head, err
	}
	body, err := json.Marshal(e.Data)
	if err != nil {
		return nil, err
	}
	if len(body) <= 2 { // {}
		return head, nil
	}
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, body[1:]...), nil
}

// UnmarshalJSON reads what MarshalJSON writes (events.jsonl of a run).
func (e *Event) UnmarshalJSON(b []byte) error {
	var head struct {
		Type string    `json:"type"`
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	p := newPayload(head.Type)
	if p == nil {
		return fmt.Errorf("unknown event type %q", head.Type)
	}
	if err := json.Unmarshal(b, p); err != nil {
		return err
	}
	e.Time, e.Data = head.Time, p
	return nil
}

func newPayload(typ string) Payload {
	switch typ {
	case TypeStage:
		return &Stage{}
	case TypeProgress:
		return &Progress{}
	case TypeCheck:
		return &Check{}
	case TypePlan:
		return &Plan{}
	case TypeFinding:
		return &Finding{}
	case TypePrepare:
		return &Prepare{}
	case TypeFlasher:
		return &FlasherInfo{}
	case TypeFlasherOutput:
		return &FlasherMessage{}
	case TypeStrays:
		return &Strays{}
	case TypeSignal:
		return &Signal{}
	case TypePreviousRun:
		return &PreviousRun{}
	case TypeBackup:
		return &VerifiedBackup{}
	case TypeBackupCheck:
		return &BackupCheck{}
	case TypeVerify:
		return &Verify{}
	case TypeChipState:
		return &ChipState{}
	case TypeRestore:
		return &Restore{}
	case TypeMAC:
		return &MACEvent{}
	case TypeUnlock:
		return &Unlock{}
	case TypeSummary:
		return &Summary{}
	}
	return nil
}

// Pipeline stages (Stage.Stage).
const (
	StageCheck    = "check"
	StagePrepare  = "prepare"
	StagePlan     = "plan"
	StageLock     = "lock"
	StageBackup   = "backup"
	StageWrite    = "write"
	StageVerify   = "verify"
	StageRollback = "rollback"
	StageRestore  = "restore"
	StageUnlock   = "unlock" // the Dell unlock cycle's step (internal/unlock)
)

// Why a stage was skipped or failed (Stage.Reason).
const (
	ReasonRehearsal  = "rehearsal" // a rehearsal touches no protections
	ReasonNoJournal  = "nothing_to_restore"
	ReasonNoRestore  = "no_restore"  // --no-restore
	ReasonDeclined   = "declined"    // the user said no
	ReasonBlocked    = "blocked"     // a check blocks
	ReasonStillFails = "still_fails" // prepared, but the checks still fail
)

// Stage is a pipeline stage starting or ending.
type Stage struct {
	Stage  string `json:"stage"`            // check, prepare, plan, lock, backup, write, verify, rollback, restore
	Status string `json:"status"`           // start, ok, fail, skip
	Reason string `json:"reason,omitempty"` // Reason* for skip and fail, when there is one
}

// EventType implements Payload.
func (*Stage) EventType() string { return TypeStage }

// Phase is the kind of work a flasher run does at one time.
type Phase string

// Phases of a flasher operation.
const (
	PhaseProbe  Phase = "probe"
	PhaseRead   Phase = "read"
	PhaseErase  Phase = "erase"
	PhaseWrite  Phase = "write"
	PhaseVerify Phase = "verify"
	// PhaseEraseCheck is the flasher reading erased blocks back
	// (flashrom ≥1.4 inside a write).
	PhaseEraseCheck Phase = "erase_check"
)

// Progress is a flasher operation: a start, updates, and an ok or fail.
// Percent is set only when the flasher reports one (never invented);
// Elapsed is always set and never goes backwards within an operation.
type Progress struct {
	Stage   string  `json:"stage,omitempty"`  // the pipeline stage the flasher run belongs to
	Op      Phase   `json:"op"`               // the phase: probe, read, erase, write, verify
	Pass    int     `json:"pass,omitempty"`   // read n of m; 0 when there is one pass
	Passes  int     `json:"passes,omitempty"` // 0 with a Pass: the flasher did the phase again (an erase attempt, a re-read)
	Status  string  `json:"status,omitempty"` // start, ok, fail; "" for an update
	Percent *int    `json:"percent,omitempty"`
	Elapsed float64 `json:"elapsed"` // seconds since the operation started
}

// EventType implements Payload.
func (*Progress) EventType() string { return TypeProgress }

// Percent returns a pointer for Progress.Percent.
func Percent(p int) *int { return &p }

// Check sources.
const (
	SourceMachine = "machine" // internal/preflight
	SourceImage   = "image"   // internal/rom
)

// Check is one check's result, as 'libreflash check --json' and
// 'libreflash inspect --json' show it, with where it comes from and whether
// it stops this run.
type Check struct {
	Source  string `json:"source"` // machine or image
	ID      string `json:"id"`
	Status  string `json:"status"` // pass, warn, fail, skip
	Summary string `json:"summary"`
	Detail  string `json:"detail,omitempty"`
	Fix     string `json:"fix,omitempty"`
	Docs    string `json:"docs,omitempty"`
	// Blocks: this failure stops the run. A rehearsal shows a failing
	// machine check without stopping (Blocks false, Status fail).
	Blocks bool `json:"blocks,omitempty"`
}

// EventType implements Payload.
func (*Check) EventType() string { return TypeCheck }

// Region modes (Plan.Region).
const (
	RegionFull = "full" // the whole chip
	RegionBIOS = "bios" // --ifd -i bios: the BIOS region only
)

// Why the plan writes what it writes (Plan.RegionReason).
const (
	RegionRequested     = "requested"      // --region full or bios
	RegionImageLayout   = "image_layout"   // the image checks chose it (rom.Report.RegionMode)
	RegionLockedRegions = "locked_regions" // the chip's descriptor locks other regions
	RegionLayoutDiffers = "layout_differs" // the image's descriptor differs from the chip's: whole chip
	RegionDefault       = "default"        // nothing asked for a region
)

// Plan steps (Plan.Steps), in order.
const (
	StepBackup   = "backup"   // read the chip twice, the reads must match
	StepWrite    = "write"    // write the image
	StepVerify   = "verify"   // libreflash reads the chip and compares
	StepRollback = "rollback" // on failure: write the verified backup back
	StepRestore  = "restore"  // raise the protections prepare lowered
	// StepEnableSMIs: run the Dell unlock tool again to enable the SMIs
	// this run disabled (also with --no-restore; not after an unknown
	// state).
	StepEnableSMIs = "enable_smis"
)

// Plan is what an install will do, shown before it asks to go on.
type Plan struct {
	Image      *ImageRef `json:"image,omitempty"` // nil for a backup
	Chip       ChipRef   `json:"chip"`
	Programmer string    `json:"programmer"` // the programmer's name (-p up to the first colon)
	// Region is full or bios; RegionReason says why (Region*).
	Region       string   `json:"region"`
	RegionReason string   `json:"region_reason"`
	Locked       []string `json:"locked,omitempty"` // regions the chip's descriptor locks
	// Layout names the regions the image's descriptor places elsewhere
	// than the chip's (region_reason layout_differs).
	Layout []string `json:"layout,omitempty"`
	Steps  []string `json:"steps"` // Step*, in order
	// ChipReads and ChipWrites are the chip passes a successful run makes;
	// FlasherRuns the flasher runs that touch the chip (probe included).
	ChipReads   int `json:"chip_reads"`
	ChipWrites  int `json:"chip_writes"`
	FlasherRuns int `json:"flasher_runs"`
	// Percentages: the flasher reports them (--progress); else timers only.
	Percentages bool `json:"percentages"`
	// FlashContents: the write reuses the backup instead of reading first.
	FlashContents bool `json:"flash_contents"`
	// Restore: the protections prepare lowered are raised after a verified
	// write; false with --no-restore and in a rehearsal.
	Restore   bool       `json:"restore"`
	Rehearsal *Rehearsal `json:"rehearsal,omitempty"`
	// Previous is the unfinished earlier run whose backup is this run's
	// way back, when there is one (the chip may be half-written).
	Previous *PreviousRun `json:"previous,omitempty"`
	// Archive is the release archive the image comes from, as checked.
	Archive *ArchiveRef `json:"archive,omitempty"`
	// MAC is what happens to the image's MAC address once the backup is
	// read: auto (this machine's own, from the backup), keep, random, or
	// the address given; "" when the image has no GbE region or only the
	// BIOS region is written.
	MAC string `json:"mac,omitempty"`
	// Inhibitor is "held" while logind holds off sleep, shutdown and idle
	// for the run (from the first chip access to the end), else why not;
	// absent for a rehearsal or a backup.
	Inhibitor string `json:"inhibitor,omitempty"`
}

// EventType implements Payload.
func (*Plan) EventType() string { return TypePlan }

// ArchiveRef is the Libreboot release archive an install takes its image
// from: what was verified, and which image was chosen.
type ArchiveRef struct {
	Path     string               `json:"path"`
	Version  string               `json:"version,omitempty"`
	Target   string               `json:"target,omitempty"`
	Verified archive.Verification `json:"verified"`
	ROM      string               `json:"rom"`               // the chosen image's file name
	Label    string               `json:"label,omitempty"`   // its payload, display, layout
	Choices  int                  `json:"choices,omitempty"` // images that fitted this machine
}

// MACEvent is the MAC address the written image carries, decided once the
// backup holds this machine's own. Changed: the private copy that is
// written got To (its sha256 is SHA256); otherwise Why says why not.
type MACEvent struct {
	rom.MACChange
	Changed bool   `json:"changed"`
	SHA256  string `json:"sha256,omitempty"` // of the image as written
}

// EventType implements Payload.
func (*MACEvent) EventType() string { return TypeMAC }

// Rehearsal says what a rehearsal emulates.
type Rehearsal struct {
	Emulate    string   `json:"emulate"`               // the dummy programmer's chip model
	ChipFile   string   `json:"chip_file"`             // the emulated chip's backing file
	SeededFrom string   `json:"seeded_from"`           // --rehearse-from, or "" for a generated factory-like image
	For        string   `json:"for"`                   // the programmer the real run would use
	WouldBlock []string `json:"would_block,omitempty"` // checks that stop the real run
}

// ImageRef is the image to write.
type ImageRef struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ChipRef is the chip as the flasher names it.
type ChipRef struct {
	Vendor string `json:"vendor,omitempty"`
	Name   string `json:"name"`
	Size   int64  `json:"size"`
}

// Finding is a diagnosed cause of a flasher failure, whole: candidate,
// basis, count and check included.
type Finding struct {
	diagnose.Finding
}

// EventType implements Payload.
func (*Finding) EventType() string { return TypeFinding }

// Prepare statuses.
const (
	PrepareProposed = "proposed" // shown, about to ask
	PrepareApplied  = "applied"
	PrepareDeclined = "declined"
	PrepareManual   = "manual"   // needs the user; Steps say how
	PrepareLater    = "possible" // blocked by other checks too; prepare can help after they are fixed
)

// Prepare is the set of reversible changes that lift the blocking checks:
// derived once (restore.Manager.Derive) for 'prepare' and 'install'.
type Prepare struct {
	Status  string          `json:"status"`
	Actions []string        `json:"actions"`
	Steps   []*restore.Step `json:"steps,omitempty"`
	Notes   []string        `json:"notes,omitempty"`
	Reboot  bool            `json:"reboot"` // the changes take effect on the next boot
}

// EventType implements Payload.
func (*Prepare) EventType() string { return TypePrepare }

// FlasherInfo is the flasher a run uses.
type FlasherInfo struct {
	Path          string `json:"path"`
	Kind          string `json:"kind"`
	Version       string `json:"version"`
	Progress      bool   `json:"progress"`       // --progress
	FlashContents bool   `json:"flash_contents"` // --flash-contents
	NoVerify      bool   `json:"no_verify"`      // -n: libreflash verifies by one read of its own
}

// EventType implements Payload.
func (*FlasherInfo) EventType() string { return TypeFlasher }

// FlasherMessage is a warning or error line of the flasher, cleaned, shown
// once per run.
type FlasherMessage struct {
	Level string `json:"level"` // warn, error
	Text  string `json:"text"`
	Line  int    `json:"line,omitempty"` // in flasher.log's stream
}

// EventType implements Payload.
func (*FlasherMessage) EventType() string { return TypeFlasherOutput }

// Strays is a flasher run that left processes behind when it exited
// (runner.Result): those still in its process group were killed; those that
// had left the group and kept its output open were waited for, Waited
// seconds, then left running. The flasher's own exit status and output
// still decide the run.
type Strays struct {
	Stage  string `json:"stage,omitempty"` // the pipeline stage of the run
	Op     Phase  `json:"op"`              // the run's operation: probe, read, write, verify, erase
	Pass   int    `json:"pass,omitempty"`  // read n of m, as in its progress events
	Passes int    `json:"passes,omitempty"`
	PID    int    `json:"pid"` // the flasher's
	// Killed were left in the flasher's process group: killed.
	Killed []runner.Process `json:"killed,omitempty"`
	// Held kept the flasher's output open from outside its process group:
	// not killed, they may still run. Waited is set (seconds) whenever
	// output was held, even when its holders could not be named.
	Held   []runner.Process `json:"held,omitempty"`
	Waited float64          `json:"waited,omitempty"`
}

// EventType implements Payload.
func (*Strays) EventType() string { return TypeStrays }

// Signal is a stop signal received while the flasher erased or wrote:
// libreflash goes on until the chip is in a known state, then stops.
type Signal struct {
	Signal string `json:"signal"` // SIGINT, SIGTERM, SIGHUP
	Stage  string `json:"stage,omitempty"`
}

// EventType implements Payload.
func (*Signal) EventType() string { return TypeSignal }

// PreviousRun is an earlier run that never finished (killed, power cut).
type PreviousRun struct {
	Dir     string    `json:"dir"`
	Started time.Time `json:"started"`
	PID     int       `json:"pid"`
	Stage   string    `json:"stage,omitempty"`  // the last stage it started
	Status  string    `json:"status,omitempty"` // that stage's status
	// Writing: it stopped while writing the chip, which may now hold
	// neither the old firmware nor the new.
	Writing bool `json:"writing"`
	// Backup is its verified backup: the chip as it was before that run.
	Backup *BackupRef `json:"backup,omitempty"`
}

// EventType implements Payload.
func (*PreviousRun) EventType() string { return TypePreviousRun }

// Backup roles.
const (
	// RoleBackup: the chip's contents before anything was written, and the
	// rollback target.
	RoleBackup = "backup"
	// RoleSnapshot: a verified double read of a chip that an earlier run
	// left in an unknown state: kept, but never the way back.
	RoleSnapshot = "snapshot"
)

// VerifiedBackup is a verified double read kept in the state directory.
type VerifiedBackup struct {
	BackupRef
	Role  string `json:"role"`  // backup or snapshot
	Reads int    `json:"reads"` // identical reads
}

// EventType implements Payload.
func (*VerifiedBackup) EventType() string { return TypeBackup }

// BackupRef names a verified backup.
type BackupRef struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Dir    string `json:"dir,omitempty"`
}

// BackupCheck is a backup file checked against the sha256 recorded when
// its two reads matched, before it is relied on as the way back. A failed
// check is followed by the check of the other kept read.
type BackupCheck struct {
	Path     string `json:"path"`
	Expected string `json:"expected"`
	Actual   string `json:"actual,omitempty"` // "" when the file cannot be read
	OK       bool   `json:"ok"`
}

// EventType implements Payload.
func (*BackupCheck) EventType() string { return TypeBackupCheck }

// What libreflash compared (Verify.Against).
const (
	AgainstImage  = "image"  // after a write: the image, or its written region
	AgainstBackup = "backup" // after a rollback, or to learn whether a failed write changed the chip
)

// Verify is libreflash's own comparison of one read of the chip with what
// it should hold. Regions are the ones compared ("" means the whole chip).
type Verify struct {
	Against  string   `json:"against"` // image or backup
	Regions  []string `json:"regions,omitempty"`
	OK       bool     `json:"ok"`
	Mismatch *int64   `json:"mismatch,omitempty"` // offset of the first differing byte
	Read     string   `json:"read,omitempty"`     // the file read back
}

// EventType implements Payload.
func (*Verify) EventType() string { return TypeVerify }

// Chip states after a failed write (ChipState.State).
const (
	ChipUnchanged  = "unchanged"   // it holds what it held before
	ChipRolledBack = "rolled_back" // the verified backup was written back and verified
	ChipUnknown    = "unknown"     // neither: do not reboot
)

// What decided the chip's state (ChipState.Basis).
const (
	BasisFlasherSaid   = "flasher_said"        // the flasher compared and said it is unchanged
	BasisBeforeChip    = "stopped_before_chip" // the cause is one the flashers report before any chip access
	BasisReadBack      = "read_back"           // libreflash read it back and compared
	BasisFlasherUnsure = "flasher_unknown"     // the flasher said the chip is in an unknown state
	BasisNoEvidence    = "no_evidence"         // nothing shows it unchanged
)

// ChipState is what the chip holds after a failure, and why libreflash
// knows.
type ChipState struct {
	State string `json:"state"`
	Basis string `json:"basis"`
}

// EventType implements Payload.
func (*ChipState) EventType() string { return TypeChipState }

// Restore is what raising the protections again did.
type Restore struct {
	Undone []restore.Undone `json:"undone"`
	Error  string           `json:"error,omitempty"`
}

// EventType implements Payload.
func (*Restore) EventType() string { return TypeRestore }

// Unlock is one run of the unlock tool (dell_flash_unlock) in the unlock
// stage: the outcome read from its messages (override_armed,
// smis_disabled, unlocked, smis_enabled), or none when the run failed (the
// summary's error says why).
type Unlock struct {
	Tool    string `json:"tool"`
	Outcome string `json:"outcome,omitempty"`
	Exit    int    `json:"exit"`
}

// EventType implements Payload.
func (*Unlock) EventType() string { return TypeUnlock }

// Summary is the outcome of a run, sent last.
type Summary struct {
	Result    string     `json:"result"`
	Exit      int        `json:"exit"`
	Backup    *BackupRef `json:"backup,omitempty"`
	Chip      *ChipRef   `json:"chip,omitempty"`
	ChipReads int        `json:"chip_reads"`
	// FlasherRuns counts the flasher runs that touched the chip (probe,
	// reads, writes), from their command lines.
	FlasherRuns int    `json:"flasher_runs"`
	Log         string `json:"log,omitempty"`
	Events      string `json:"events,omitempty"`
	Error       string `json:"error,omitempty"`
	Hint        string `json:"hint,omitempty"`
	// Seconds is the run's wall time.
	Seconds float64 `json:"seconds,omitempty"`
	// Rehearsal: the run wrote an emulated chip only (install --rehearse).
	Rehearsal bool `json:"rehearsal,omitempty"`
	// Next lists what the user should do now, in order.
	Next []Next `json:"next,omitempty"`
	// SignatureSkipped: the image came from a release archive whose
	// signature was not checked (--no-verify-signature).
	SignatureSkipped bool `json:"signature_skipped,omitempty"`
}

// EventType implements Payload.
func (*Summary) EventType() string { return TypeSummary }

// Next steps (Next.ID), for the command layer to word.
const (
	NextReboot          = "reboot"           // reboot: the machine starts the new firmware
	NextKeepBackup      = "keep_backup"      // copy Path off this machine
	NextOldSettings     = "old_settings"     // firmware settings do not carry over
	NextSafeToReboot    = "safe_to_reboot"   // the chip holds its old firmware
	NextFixAndRetry     = "fix_and_retry"    // fix the cause shown, then Command
	NextRunAgain        = "run_again"        // Command (after a reboot, or when ready)
	NextRealInstall     = "real_install"     // a rehearsal went through: Command is the real run
	NextKeepPower       = "keep_power"       // do not reboot, power off, suspend; plug in the charger
	NextCopyBackup      = "copy_backup"      // copy Path (SHA256) to a USB stick now
	NextProtectionsStay = "protections_stay" // the lowered protections stay lowered for recovery
	NextRetryBackup     = "retry_backup"     // Command writes the backup back
	NextExternal        = "external"         // an external programmer, Docs
	NextShutDown        = "shut_down"        // shut down (do not reboot), power on again
	NextSMIsStay        = "smis_stay"        // the Dell unlock's SMIs stay disabled for the recovery; Command enables them after
)

// Next is one step the user should take, in the order given.
type Next struct {
	ID      string `json:"id"`
	Command string `json:"command,omitempty"`
	Path    string `json:"path,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Docs    string `json:"docs,omitempty"`
}

// Sink receives events in order. It is called from one goroutine at a
// time, but not always the same one.
type Sink func(Event)

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
