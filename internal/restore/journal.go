package restore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"libreflash/internal/statedir"
)

// Entry states. An entry is written as "applying" before its change starts,
// becomes "applied" once the change is complete, and "undoing" before Undo
// starts; it is removed once undone. Undo works from any of the three, so a
// crash at any point leaves a journal the next restore completes.
const (
	StateApplying = "applying"
	StateApplied  = "applied"
	StateUndoing  = "undoing"
)

// journalVersion is bumped if the format changes incompatibly; a reader
// refuses versions it does not know rather than guess how to undo them.
const journalVersion = 1

// Journal is $STATE/journal.json: every change libreflash made to the system
// that is not yet undone, oldest first.
type Journal struct {
	Version int      `json:"version"`
	Entries []*Entry `json:"entries"`

	// Ignored says why the journal file was not read (a symlink).
	Ignored string `json:"-"`
}

// Entry is one reversible change with everything its Undo needs.
type Entry struct {
	ID      string    `json:"id"`
	Action  string    `json:"action"`  // iomem-relaxed, unload-drivers, bsd-securelevel
	Backend string    `json:"backend"` // how: grub-dropin, grubby, modprobe, ...
	State   string    `json:"state"`
	Created time.Time `json:"created"`
	// Reboot is true when the change takes effect only on the next boot.
	Reboot bool `json:"reboot"`
	// BootID is the boot the entry was made in (/proc/sys/kernel/random/boot_id):
	// a driver unload does not outlive it.
	BootID string `json:"boot_id,omitempty"`
	// Param is the kernel argument added, for iomem-relaxed.
	Param string `json:"param,omitempty"`
	// Modules are the drivers unloaded, in unload order, for unload-drivers.
	Modules []string `json:"modules,omitempty"`
	// Files are changed first, in order; Undo restores them in reverse.
	Files []*FileChange `json:"files,omitempty"`
	// Apply commands run after the files; Undo commands run after the files
	// are restored. Both are idempotent, so re-running them after a crash
	// is safe. They are recorded for people (status shows them); restore
	// never runs a command read from the journal but works it out again
	// from Action and Backend (Manager.undoCommands).
	Apply []Command `json:"apply,omitempty"`
	Undo  []Command `json:"undo,omitempty"`
	// Expect says what the change should achieve, for status and humans.
	Expect string `json:"expect,omitempty"`
}

// FileChange records one file before the change, and the hash of what
// libreflash writes, so Undo can tell "ours, unchanged" from "edited since".
type FileChange struct {
	Path       string `json:"path"` // host path, e.g. /etc/default/grub
	Existed    bool   `json:"existed"`
	Orig       []byte `json:"orig,omitempty"` // original bytes (base64 in JSON)
	OrigSHA256 string `json:"orig_sha256,omitempty"`
	Mode       uint32 `json:"mode,omitempty"` // permission bits
	UID        int    `json:"uid"`
	GID        int    `json:"gid"`
	NewSHA256  string `json:"new_sha256"`
	// Fallback says how to take libreflash's change out of a file that was
	// edited since: "grub-var", "words" (cmdline file, options line),
	// "line" (an appended line), "delete" (a file that is all ours).
	Fallback string `json:"fallback"`
	// Remove is what the fallback removes: the argument or the line.
	Remove string `json:"remove,omitempty"`
	// Dirs are the directories Apply creates for a new file, outermost
	// first; Undo removes them again if they are empty.
	Dirs []string `json:"dirs,omitempty"`

	new []byte // what Apply writes; not needed after it
}

// Command is an external tool run with argv only.
type Command struct {
	Tool string   `json:"tool"` // host path of the tool, e.g. /usr/sbin/update-grub
	Args []string `json:"args,omitempty"`
}

// Argv is the command as the user would type it.
func (c Command) Argv() []string { return append([]string{c.Tool}, c.Args...) }

// MaxJournalSize bounds the journal read: it holds a few boot
// configuration files, a few KiB each.
const MaxJournalSize = 4 << 20

// ParseJournal decodes and validates journal bytes. The journal is read by
// root and drives file writes, so it is treated as untrusted: unknown
// versions, states and actions are refused, and so is every file, fallback,
// module or argument that the entry's action and backend would not have
// written (validEntry). Commands in it are never run: restore works them
// out again from the action and backend, finding the tools as prepare did.
func ParseJournal(b []byte) (*Journal, error) {
	if len(b) > MaxJournalSize {
		return nil, fmt.Errorf("journal: %d bytes, more than the %d libreflash ever writes", len(b), MaxJournalSize)
	}
	var j Journal
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if dec.More() {
		return nil, errors.New("journal: trailing data")
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("journal: version %d, this libreflash reads %d", j.Version, journalVersion)
	}
	seen := map[string]bool{}
	for i, e := range j.Entries {
		if e == nil {
			return nil, fmt.Errorf("journal: entry %d is null", i)
		}
		if e.ID == "" || seen[e.ID] {
			return nil, fmt.Errorf("journal: entry %d: missing or repeated id", i)
		}
		seen[e.ID] = true
		switch e.State {
		case StateApplying, StateApplied, StateUndoing:
		default:
			return nil, fmt.Errorf("journal: entry %s: unknown state %q", e.ID, e.State)
		}
		if !journalAction(e.Action) {
			return nil, fmt.Errorf("journal: entry %s: unknown action %q", e.ID, e.Action)
		}
		if err := validEntry(e); err != nil {
			return nil, fmt.Errorf("journal: entry %s: %w", e.ID, err)
		}
	}
	return &j, nil
}

// loadJournal reads the journal of stateDir after checking the directory
// (statedir.Open): a state directory others could have prepared is refused
// before anything is read from it. A missing directory or file is an empty
// journal; so is a symlink, which is never followed (Journal.Ignored says
// so, and the next save replaces it).
func loadJournal(stateDir string) (*Journal, error) {
	path := statedir.Journal(stateDir)
	empty := &Journal{Version: journalVersion}
	d, err := statedir.Open(stateDir, false)
	if errors.Is(err, os.ErrNotExist) {
		return empty, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	b, err := d.ReadFile("journal.json", MaxJournalSize)
	var se *statedir.SymlinkError
	switch {
	case errors.Is(err, os.ErrNotExist):
		return empty, nil
	case errors.As(err, &se):
		empty.Ignored = se.Error()
		return empty, nil
	case err != nil:
		return nil, &JournalError{Path: path, Err: err}
	}
	j, err := ParseJournal(b)
	if err != nil {
		return nil, &JournalError{Path: path, Err: err}
	}
	return j, nil
}

// save writes the journal atomically and durably: temp file in the same
// directory, fsync, rename, fsync the directory. After save returns, a crash
// leaves either the old or the new journal, never a torn one.
func (j *Journal) save(path string) error {
	if len(j.Entries) == 0 {
		err := os.Remove(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return syncDir(filepath.Dir(path))
	}
	j.Version = journalVersion
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := statedir.WriteFile(path, append(b, '\n'), true); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func (j *Journal) remove(id string) {
	out := j.Entries[:0]
	for _, e := range j.Entries {
		if e.ID != id {
			out = append(out, e)
		}
	}
	j.Entries = out
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
