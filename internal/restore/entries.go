package restore

import (
	"context"
	"errors"
	"fmt"

	"libreflash/internal/statedir"
)

// Journal-only actions: changes another package makes with a tool of its
// own (the Dell unlock cycle, internal/unlock), journaled here before the
// tool runs so that a crash, a reboot or a failure leaves a record that
// status shows and restore completes. prepare never offers them.
const (
	// ActionDellOverride: dell_flash_unlock asked the EC for the descriptor
	// override on the next boot. Nothing to undo (the EC does it for one
	// boot); the entry records where the cycle is (BootID says which boot
	// armed it).
	ActionDellOverride = "dell-override-armed"
	// ActionDellSMIs: dell_flash_unlock disabled SMIs (GBL_SMI_EN).
	// Undone by running the tool again, through the Undoer registered for
	// it (the tool's answer must be read, and a run when SMIs are already
	// enabled would disable them).
	ActionDellSMIs = "dell-smis-disabled"
)

// BackendDellUnlock is the backend of the Dell entries: the tool itself.
const BackendDellUnlock = "dell_flash_unlock"

// DellToolNames are the names the Dell unlock tool is installed under
// (Libreboot's and upstream's build make dell_flash_unlock; releases
// before 20230423 named it e6400_flash_unlock). A journal entry may name
// no other program to run as root.
var DellToolNames = []string{"dell_flash_unlock", "dell-flash-unlock", "e6400_flash_unlock"}

// journalActions are the actions a journal may hold besides Actions.
var journalActions = []string{ActionDellOverride, ActionDellSMIs}

func journalAction(a string) bool {
	if knownAction(a) {
		return true
	}
	for _, k := range journalActions {
		if a == k {
			return true
		}
	}
	return false
}

// Undoer undoes an entry whose undo is more than its Undo commands. It is
// idempotent: it finds out whether the change is still in effect first.
type Undoer func(ctx context.Context, e *Entry) error

// errNoUndoer is an entry of a journal-only action no Undoer was
// registered for in this Manager; it stays in the journal.
var errNoUndoer = errors.New("this libreflash command cannot undo it (no undo registered)")

// Begin journals e as "applying" before the caller makes its change, and
// returns it with its ID set. The caller then calls Settle, Forget, or
// leaves it for restore.
func (m *Manager) Begin(e *Entry) (*Entry, error) {
	if !journalAction(e.Action) {
		return nil, &UnknownActionError{Name: e.Action}
	}
	if err := statedir.Ensure(m.StateDir); err != nil {
		return nil, err
	}
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	e.ID = fmt.Sprintf("%s-%s", m.now().Format("20060102T150405.000000000Z"), e.Action)
	e.Created = m.now()
	e.State = StateApplying
	if e.BootID == "" {
		e.BootID = m.root().BootID()
	}
	j.Entries = append(j.Entries, e)
	return e, j.save(m.journalPath())
}

// Settle marks the entry with e's ID applied, keeping e's Expect.
func (m *Manager) Settle(e *Entry) error {
	j, err := m.Journal()
	if err != nil {
		return err
	}
	for _, x := range j.Entries {
		if x.ID == e.ID {
			x.State, x.Expect = StateApplied, e.Expect
			e.State = StateApplied
			return j.save(m.journalPath())
		}
	}
	return fmt.Errorf("journal entry %s is gone", e.ID)
}

// Forget removes the entry with the given ID without undoing anything:
// the caller knows the change did not happen or no longer holds.
func (m *Manager) Forget(id string) error {
	j, err := m.Journal()
	if err != nil {
		return err
	}
	j.remove(id)
	return j.save(m.journalPath())
}

// Pending returns the journal's entries of action, oldest first.
func (m *Manager) Pending(action string) ([]*Entry, error) {
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	for _, e := range j.Entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out, nil
}

// RestoreAction undoes the entries of one action only, newest first (the
// Dell SMIs after a failed write, whatever --no-restore says).
func (m *Manager) RestoreAction(ctx context.Context, action string) (*RestoreResult, error) {
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	res, errs := m.undoEntries(ctx, j, action)
	if len(errs) > 0 {
		return res, &RestoreError{Errs: errs}
	}
	return res, nil
}

// undoEntries undoes j's entries of action ("" for all), newest first; an
// entry whose undo fails stays in the journal and its error is returned.
func (m *Manager) undoEntries(ctx context.Context, j *Journal, action string) (*RestoreResult, []error) {
	res := &RestoreResult{Undone: []Undone{}}
	var errs []error
	for i := len(j.Entries) - 1; i >= 0; i-- {
		e := j.Entries[i]
		if action != "" && e.Action != action {
			continue
		}
		u := Undone{ID: e.ID, Action: e.Action, Backend: e.Backend, Summary: undoSummary(e)}
		if err := m.undoEntry(ctx, j, e); err != nil {
			u.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", e.Action, err))
		} else {
			u.Reboot = m.stillInEffect(e)
			res.Reboot = res.Reboot || u.Reboot
		}
		res.Undone = append(res.Undone, u)
	}
	return res, errs
}
