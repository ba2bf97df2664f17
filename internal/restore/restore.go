// Package restore owns every change libreflash makes to the system to let a
// flasher reach the boot flash, and its undoing: the kernel argument
// iomem=relaxed through the distribution's own boot loader mechanism, the
// unloading of drivers that claim the flash controller, and the BSD
// securelevel.
//
// Each change is written to a journal ($STATE/journal.json) *before* it is
// made, with what its undo needs (original bytes, hash, mode and owner, the
// commands to run). Undo is idempotent and works from any point of a change
// or of an earlier undo, so a crash, a power cut or a reboot at any moment
// leaves a state that the next Restore completes. Nothing is changed without
// a journal entry.
//
// Every host path goes through Manager.Root and every tool through
// Manager.Cmd, so tests run against fake roots with recording tools.
// Callers hold the state directory lock (statedir.Lock) around Apply and
// Restore.
package restore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/kcmdline"
	"libreflash/internal/statedir"
)

// Actions.
const (
	ActionIomem       = "iomem-relaxed"
	ActionDrivers     = "unload-drivers"
	ActionSecurelevel = "bsd-securelevel"
)

// Actions lists the actions prepare accepts, in the order they are applied.
var Actions = []string{ActionIomem, ActionDrivers, ActionSecurelevel}

func knownAction(a string) bool {
	for _, k := range Actions {
		if a == k {
			return true
		}
	}
	return false
}

// iomemParam is the kernel argument that lets /dev/mem reach MMIO that a
// driver has claimed (CONFIG_IO_STRICT_DEVMEM), which internal flashing needs.
const iomemParam = "iomem=relaxed"

// Manager applies and undoes changes on the system under Root, journaling
// them in StateDir.
type Manager struct {
	Root       string    // "/" on a real system
	StateDir   string    // $STATE
	Cmd        Commander // runs tools; ExecCommander on a real system
	TrustedUID int       // owner required of tools and their directories (0)
	GOOS       string    // "linux", "openbsd", "netbsd"; runtime.GOOS by default
	Now        func() time.Time

	// Undoers undo the journal-only actions (entries.go), keyed by
	// action; an entry without one stays in the journal.
	Undoers map[string]Undoer
	// InEffect reads whether a journal-only action's change is in effect
	// on the running machine (status's in_effect), keyed by action; known
	// false leaves it null.
	InEffect map[string]func(*Entry) (on, known bool)

	// hook, when set (tests only), is called at each step of Apply and Undo
	// so tests can simulate a crash there.
	hook func(step string)
}

// New returns a Manager for the running system's root and stateDir.
func New(root, stateDir string) *Manager {
	if root == "" {
		root = "/"
	}
	return &Manager{Root: root, StateDir: stateDir, Cmd: ExecCommander{}, GOOS: runtime.GOOS, Now: time.Now}
}

func (m *Manager) step(name string) {
	if m.hook != nil {
		m.hook(name)
	}
}

func (m *Manager) journalPath() string { return statedir.Journal(m.StateDir) }

// Journal returns the pending entries.
func (m *Manager) Journal() (*Journal, error) { return loadJournal(m.StateDir) }

// JournalError is a journal that cannot be read. Nothing is undone from a
// journal libreflash does not understand.
type JournalError struct {
	Path string
	Err  error
}

func (e *JournalError) Error() string { return fmt.Sprintf("%s: %v", e.Path, e.Err) }
func (e *JournalError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *JournalError) ExitCode() int { return exitcode.Error }

// Hint implements exitcode.Hinter.
func (e *JournalError) Hint() string {
	return "nothing was changed; the journal lists what libreflash changed, so look at it before removing it"
}

// iomemInEffect says whether the running kernel has iomem=relaxed, and
// whether its command line could be read at all.
func (m *Manager) iomemInEffect() (on, known bool) {
	p, err := m.root().Cmdline()
	if err != nil {
		return false, false
	}
	return kcmdline.Has(p, "iomem", "relaxed"), true
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now().UTC()
	}
	return time.Now().UTC()
}

// Step is one action as planned or applied: what it changes and how.
type Step struct {
	Action  string `json:"action"`
	Backend string `json:"backend,omitempty"`
	// Status: "planned", "applied", "already" (nothing to do), "manual"
	// (libreflash cannot do it; Manual says how).
	Status   string     `json:"status"`
	Summary  string     `json:"summary"`
	Files    []string   `json:"files,omitempty"`
	Commands [][]string `json:"commands,omitempty"`
	// Reboot: takes effect on the next boot only.
	Reboot bool     `json:"reboot"`
	Manual []string `json:"manual,omitempty"`

	entry *Entry
}

// Plan is what Prepare would do.
type Plan struct {
	Steps []*Step `json:"steps"`
	// Notes explain what cannot be changed from the running system
	// (SecureBoot, lockdown): firmware settings.
	Notes []string `json:"notes,omitempty"`
}

// NeedsReboot says whether any applied or pending step needs a reboot.
func (p *Plan) NeedsReboot() bool {
	for _, s := range p.Steps {
		if s.Reboot && (s.Status == "applied" || s.Status == "already") {
			return true
		}
	}
	return false
}

// Manual says whether some step must be done by the user.
func (p *Plan) Manual() bool {
	for _, s := range p.Steps {
		if s.Status == "manual" {
			return true
		}
	}
	return false
}

// InterruptedError is a journal entry left half-way by an interrupted run:
// prepare adds nothing on top of it; restore finishes it.
type InterruptedError struct{ Entry, State string }

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("an earlier run was interrupted while %s (journal entry %s)", e.State, e.Entry)
}

// ExitCode implements exitcode.Coder: nothing was changed.
func (e *InterruptedError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *InterruptedError) Hint() string {
	return "run 'sudo libreflash restore' to finish undoing it, then prepare again"
}

// UnknownActionError is a prepare argument that is not an action.
type UnknownActionError struct{ Name string }

func (e *UnknownActionError) Error() string { return fmt.Sprintf("unknown action %q", e.Name) }

// ExitCode implements exitcode.Coder.
func (e *UnknownActionError) ExitCode() int { return exitcode.Usage }

// Hint implements exitcode.Hinter.
func (e *UnknownActionError) Hint() string {
	return "actions are " + strings.Join(Actions, ", ")
}

// PlanActions works out, without changing anything, how each action would
// be done on this system. Actions are applied in the order of Actions.
func (m *Manager) PlanActions(ctx context.Context, actions []string) (*Plan, error) {
	want := map[string]bool{}
	for _, a := range actions {
		if !knownAction(a) {
			return nil, &UnknownActionError{Name: a}
		}
		want[a] = true
	}
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	for _, e := range j.Entries {
		if e.State != StateApplied {
			return nil, &InterruptedError{Entry: e.ID, State: e.State}
		}
	}
	p := &Plan{}
	for _, a := range Actions {
		if !want[a] {
			continue
		}
		var s *Step
		switch a {
		case ActionIomem:
			s, err = m.planIomem(ctx, j)
		case ActionDrivers:
			s, err = m.planDrivers(j)
		case ActionSecurelevel:
			s, err = m.planSecurelevel(j)
		}
		if err != nil {
			return nil, err
		}
		p.Steps = append(p.Steps, s)
	}
	return p, nil
}

func pending(j *Journal, action string) *Entry {
	for _, e := range j.Entries {
		if e.Action == action {
			return e
		}
	}
	return nil
}

// Apply makes the planned steps, each journaled before it starts. On a
// failure the step that failed is undone and its entry removed; steps
// applied before it stay applied and journaled (restore undoes them).
func (m *Manager) Apply(ctx context.Context, p *Plan) error {
	for _, s := range p.Steps {
		if s.Status != "planned" || s.entry == nil {
			continue
		}
		if err := m.applyEntry(ctx, s.entry); err != nil {
			return fmt.Errorf("%s: %w", s.Action, err)
		}
		s.Status = "applied"
	}
	return nil
}

func (m *Manager) applyEntry(ctx context.Context, e *Entry) error {
	if err := statedir.Ensure(m.StateDir); err != nil {
		return err
	}
	j, err := m.Journal()
	if err != nil {
		return err
	}
	e.ID = fmt.Sprintf("%s-%s", m.now().Format("20060102T150405.000000000Z"), e.Action)
	e.Created = m.now()
	e.State = StateApplying
	j.Entries = append(j.Entries, e)
	if err := j.save(m.journalPath()); err != nil {
		return err // nothing changed yet
	}
	m.step("journal-written")
	err = m.doApply(ctx, e)
	if err == nil {
		e.State = StateApplied
		if err = j.save(m.journalPath()); err == nil {
			m.step("applied")
			return nil
		}
	}
	// Take back whatever part of the change was made. If that fails too,
	// the entry stays in the journal for restore.
	if uerr := m.undoEntry(ctx, j, e); uerr != nil {
		return &exitcode.E{Code: exitcode.Error, Err: fmt.Errorf("%w\nundoing it also failed: %v", err, uerr),
			Tip: "the change is still in the journal: fix what the tool reports, then run 'libreflash restore'"}
	}
	return err
}

func (m *Manager) doApply(ctx context.Context, e *Entry) error {
	for _, fc := range e.Files {
		if err := m.applyFile(fc); err != nil {
			return fmt.Errorf("write %s: %w", fc.Path, err)
		}
		m.step("file-written")
	}
	for _, c := range e.Apply {
		if _, err := m.run(ctx, c); err != nil {
			return err
		}
		m.step("command-run")
	}
	if e.Action == ActionDrivers {
		if still := m.loaded(e.Modules); len(still) > 0 {
			return fmt.Errorf("still loaded after modprobe -r: %s", strings.Join(still, ", "))
		}
	}
	return nil
}

// undoEntry undoes e and removes it from j. Each step is idempotent.
func (m *Manager) undoEntry(ctx context.Context, j *Journal, e *Entry) error {
	e.State = StateUndoing
	if err := j.save(m.journalPath()); err != nil {
		return err
	}
	m.step("undo-marked")
	var errs []error
	for i := len(e.Files) - 1; i >= 0; i-- {
		if _, err := m.undoFile(e.Files[i]); err != nil {
			errs = append(errs, err)
			continue
		}
		m.step("file-restored")
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	undo, err := m.undoCommands(e)
	if err != nil {
		return err
	}
	if !knownAction(e.Action) {
		// Journal-only: its own Undoer, or nothing to undo (the override
		// arms one boot only).
		undo = nil
		if u := m.Undoers[e.Action]; u != nil {
			if err := u(ctx, e); err != nil {
				return err
			}
		} else if e.Action != ActionDellOverride {
			return errNoUndoer
		}
	}
	for _, c := range undo {
		if _, err := m.run(ctx, c); err != nil {
			return err
		}
		m.step("undo-command-run")
	}
	j.remove(e.ID)
	if err := j.save(m.journalPath()); err != nil {
		return err
	}
	m.step("undone")
	return nil
}

// Undone is one journal entry that Restore took back.
type Undone struct {
	ID      string `json:"id"`
	Action  string `json:"action"`
	Backend string `json:"backend"`
	Summary string `json:"summary"`
	// Reboot: the running system still has the change until the next boot.
	Reboot bool   `json:"reboot"`
	Error  string `json:"error,omitempty"`
}

// RestoreResult is what Restore did.
type RestoreResult struct {
	Undone []Undone `json:"undone"`
	Reboot bool     `json:"reboot"`
}

// Restore undoes every journal entry, newest first. It is idempotent: with
// an empty journal it does nothing. An entry whose undo fails stays in the
// journal; the others are still undone.
func (m *Manager) Restore(ctx context.Context) (*RestoreResult, error) {
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	res, errs := m.undoEntries(ctx, j, "")
	// Then what libreflash marked as its own but no entry lists.
	for _, o := range m.Orphans(j) {
		u := Undone{ID: "orphan:" + o.Path, Action: o.Action, Backend: "found", Summary: "undid " + o.Summary}
		if err := m.undoOrphan(ctx, o); err != nil {
			u.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", o.Path, err))
		} else {
			u.Reboot = m.stillInEffect(&Entry{Action: o.Action})
			res.Reboot = res.Reboot || u.Reboot
		}
		res.Undone = append(res.Undone, u)
	}
	if len(errs) > 0 {
		return res, &RestoreError{Errs: errs}
	}
	return res, nil
}

// RestoreError lists the entries that could not be undone; they stay in the
// journal.
type RestoreError struct{ Errs []error }

func (e *RestoreError) Error() string { return errors.Join(e.Errs...).Error() }
func (e *RestoreError) Unwrap() []error {
	return e.Errs
}

// ExitCode implements exitcode.Coder.
func (e *RestoreError) ExitCode() int { return exitcode.Error }

// Hint implements exitcode.Hinter.
func (e *RestoreError) Hint() string {
	var c *ConflictError
	if errors.As(e, &c) {
		return c.Hint()
	}
	return "what failed is still in the journal; fix the cause and run 'libreflash restore' again"
}

func undoSummary(e *Entry) string {
	switch e.Action {
	case ActionIomem:
		return "removed " + e.Param + " from the kernel command line (" + e.Backend + ")"
	case ActionDrivers:
		return "reloaded " + strings.Join(e.Modules, ", ")
	case ActionSecurelevel:
		return "restored the securelevel setting"
	case ActionDellSMIs:
		return "enabled SMIs again (dell_flash_unlock); the machine can be shut down"
	case ActionDellOverride:
		return "forgot the armed descriptor override (it lasts one boot)"
	}
	return e.Action
}

// stillInEffect says whether the running system still has the change after
// its undo, which means a reboot is needed for the undo to take effect.
func (m *Manager) stillInEffect(e *Entry) bool {
	switch e.Action {
	case ActionIomem:
		on, known := m.iomemInEffect()
		return on || !known
	case ActionSecurelevel:
		return true
	}
	return false
}
