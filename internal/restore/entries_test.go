package restore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// issue 15: the Dell unlock cycle's entries are journaled before the tool
// runs, settled or forgotten after, and undone through their Undoer; a
// failing or missing Undoer keeps the entry for the next restore.
func TestJournalOnlyActions(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc/sys/kernel/random"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/sys/kernel/random/boot_id"), []byte("boot-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := New(root, state)
	ctx := context.Background()

	armed, err := m.Begin(&Entry{Action: ActionDellOverride, Backend: BackendDellUnlock})
	if err != nil || armed.State != StateApplying || armed.BootID != "boot-1" {
		t.Fatalf("begin: %+v %v", armed, err)
	}
	armed.Expect = "shut down, power on"
	if err := m.Settle(armed); err != nil {
		t.Fatal(err)
	}
	smis, err := m.Begin(&Entry{Action: ActionDellSMIs, Backend: BackendDellUnlock,
		Undo: []Command{{Tool: "/usr/local/sbin/dell_flash_unlock"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The journal as written parses back (the new actions are known).
	b, err := os.ReadFile(filepath.Join(state, "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := ParseJournal(b)
	if err != nil || len(j.Entries) != 2 || j.Entries[0].State != StateApplied || j.Entries[0].Expect != "shut down, power on" ||
		j.Entries[1].State != StateApplying {
		t.Fatalf("journal %+v %v", j, err)
	}
	if _, err := m.Begin(&Entry{Action: "format-disk"}); err == nil {
		t.Error("an unknown action was journaled")
	}
	// A journal that names another program for a Dell step is refused.
	bad := strings.Replace(string(b), "/usr/local/sbin/dell_flash_unlock", "/bin/rm", 1)
	if _, err := ParseJournal([]byte(bad)); err == nil || !strings.Contains(err.Error(), "not the Dell unlock tool") {
		t.Errorf("a journal naming /bin/rm: %v", err)
	}

	// No Undoer here: the SMIs entry stays; the override is simply dropped.
	res, err := m.Restore(ctx)
	if err == nil || !strings.Contains(err.Error(), "no undo registered") {
		t.Fatalf("restore without an undoer: %+v %v", res, err)
	}
	if p, _ := m.Pending(ActionDellSMIs); len(p) != 1 {
		t.Errorf("SMIs entry lost: %v", p)
	}
	if p, _ := m.Pending(ActionDellOverride); len(p) != 0 {
		t.Errorf("override entry kept: %v", p)
	}

	// A failing Undoer keeps it; a working one removes it.
	calls := 0
	m.Undoers = map[string]Undoer{ActionDellSMIs: func(_ context.Context, e *Entry) error {
		calls++
		if e.ID != smis.ID || e.Undo[0].Tool != "/usr/local/sbin/dell_flash_unlock" {
			t.Errorf("undoer got %+v", e)
		}
		if calls == 1 {
			return errors.New("tool timed out")
		}
		return nil
	}}
	if _, err := m.RestoreAction(ctx, ActionDellSMIs); err == nil || !strings.Contains(err.Error(), "tool timed out") {
		t.Errorf("failing undoer: %v", err)
	}
	if p, _ := m.Pending(ActionDellSMIs); len(p) != 1 || p[0].State != StateUndoing {
		t.Errorf("after a failed undo: %+v", p)
	}
	res, err = m.RestoreAction(ctx, ActionDellSMIs)
	if err != nil || len(res.Undone) != 1 || !strings.Contains(res.Undone[0].Summary, "enabled SMIs again") {
		t.Errorf("undo: %+v %v", res, err)
	}
	if p, _ := m.Pending(ActionDellSMIs); len(p) != 0 {
		t.Errorf("left: %v", p)
	}

	// Forget drops an entry whose change did not happen.
	e, _ := m.Begin(&Entry{Action: ActionDellSMIs, Backend: BackendDellUnlock})
	if err := m.Forget(e.ID); err != nil {
		t.Fatal(err)
	}
	if jj, _ := m.Journal(); len(jj.Entries) != 0 {
		t.Errorf("journal not empty: %+v", jj.Entries)
	}
}
