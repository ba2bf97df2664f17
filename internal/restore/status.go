package restore

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"libreflash/internal/statedir"
)

// Status is what `libreflash status` shows.
type Status struct {
	Pending []PendingEntry `json:"pending"`
	// Orphans are libreflash's marked boot configuration changes with no
	// journal entry; restore undoes them too.
	Orphans []Orphan `json:"orphans"`
	// JournalNote says why journal.json was not read (a symlink).
	JournalNote string       `json:"journal_note,omitempty"`
	Kernel      KernelState  `json:"kernel"`
	Runs        []RunInfo    `json:"runs"`
	Backups     []BackupInfo `json:"backups"`
}

// PendingEntry is one journal entry and whether it is in effect now.
type PendingEntry struct {
	ID       string     `json:"id"`
	Action   string     `json:"action"`
	Backend  string     `json:"backend"`
	State    string     `json:"state"`
	Created  time.Time  `json:"created"`
	Reboot   bool       `json:"reboot"`
	Files    []string   `json:"files,omitempty"`
	Commands [][]string `json:"commands,omitempty"`
	Expect   string     `json:"expect,omitempty"`
	// InEffect: whether the running system has the change; null when it
	// cannot be known from Linux /proc (BSD securelevel).
	InEffect *bool `json:"in_effect"`
}

// KernelState is what the running kernel shows.
type KernelState struct {
	IomemRelaxed bool     `json:"iomem_relaxed"`
	Cmdline      bool     `json:"cmdline_readable"`
	Drivers      []string `json:"drivers"` // loaded conflicting drivers
}

// RunInfo is one install or backup run under $STATE/runs.
type RunInfo struct {
	Path   string `json:"path"`
	Result string `json:"result,omitempty"`
	Exit   *int   `json:"exit,omitempty"`
	// From the run's state.json (statedir.ListRuns): absent for runs of
	// versions that wrote none.
	Command   string `json:"command,omitempty"` // install or backup
	Rehearsal bool   `json:"rehearsal,omitempty"`
	Stage     string `json:"stage,omitempty"` // the last stage it started
	Finished  *bool  `json:"finished,omitempty"`
	Backup    string `json:"backup,omitempty"` // its way back
}

// BackupInfo is one backup under $STATE/backups.
type BackupInfo struct {
	Path     string `json:"path"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Board    string `json:"board,omitempty"`
	Verified bool   `json:"verified"` // the manifest says the two reads were equal
}

// statusListMax bounds the runs and backups shown, newest first.
const statusListMax = 5

// Status reports pending entries, the running kernel's state, and the last
// runs and backups. It reads only.
func (m *Manager) Status() (*Status, error) {
	j, err := m.Journal()
	if err != nil {
		return nil, err
	}
	on, known := m.iomemInEffect()
	st := &Status{Pending: []PendingEntry{}, Orphans: m.Orphans(j), JournalNote: j.Ignored, Runs: []RunInfo{}, Backups: []BackupInfo{},
		Kernel: KernelState{IomemRelaxed: on, Cmdline: known, Drivers: m.ConflictingLoaded()}}
	if st.Orphans == nil {
		st.Orphans = []Orphan{}
	}
	if st.Kernel.Drivers == nil {
		st.Kernel.Drivers = []string{}
	}
	for _, e := range j.Entries {
		p := PendingEntry{ID: e.ID, Action: e.Action, Backend: e.Backend, State: e.State, Created: e.Created,
			Reboot: e.Reboot, Expect: e.Expect}
		for _, f := range e.Files {
			p.Files = append(p.Files, f.Path)
		}
		for _, c := range e.Apply {
			p.Commands = append(p.Commands, c.Argv())
		}
		switch e.Action {
		case ActionIomem:
			if known {
				v := on
				p.InEffect = &v
			}
		case ActionDrivers:
			v := e.BootID == m.root().BootID() && len(m.loaded(e.Modules)) == 0
			p.InEffect = &v
		default:
			if f := m.InEffect[e.Action]; f != nil {
				if v, known := f(e); known {
					p.InEffect = &v
				}
			}
		}
		st.Pending = append(st.Pending, p)
	}
	// The state directory was checked when the journal was read; its
	// files are opened from it without following symlinks.
	sd, err := statedir.Open(m.StateDir, false)
	if err != nil {
		return st, nil // nothing there yet
	}
	defer sd.Close()
	runs := statedir.ListRuns(m.StateDir)
	if len(runs) > statusListMax {
		runs = runs[:statusListMax]
	}
	for _, r := range runs {
		ri := RunInfo{Path: r.Dir, Rehearsal: r.Rehearsal}
		if !r.Readable {
			ri = runInfo(sd, r.Dir)
			ri.Rehearsal = r.Rehearsal
		} else {
			s := r.State
			fin := s.Finished
			ri.Command, ri.Stage, ri.Finished, ri.Result = s.Command, s.Stage, &fin, s.Result
			if fin {
				exit := s.Exit
				ri.Exit = &exit
			}
			if s.Backup != nil {
				ri.Backup = s.Backup.Path
			}
		}
		st.Runs = append(st.Runs, ri)
	}
	for _, d := range newestDirs(statedir.Backups(m.StateDir)) {
		st.Backups = append(st.Backups, backupInfo(sd, d))
	}
	return st, nil
}

// rel names file name of dir (a directory of runs/ or backups/) relative
// to the state directory.
func rel(dir, name string) string {
	return filepath.Join(filepath.Base(filepath.Dir(dir)), filepath.Base(dir), name)
}

// newestDirs lists the subdirectories of dir, newest name first (names
// start with a UTC timestamp).
func newestDirs(dir string) []string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, d := range des {
		if d.IsDir() {
			out = append(out, filepath.Join(dir, d.Name()))
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	if len(out) > statusListMax {
		out = out[:statusListMax]
	}
	return out
}

// runInfo reads the summary event of a run's events.jsonl.
func runInfo(sd *statedir.Dir, dir string) RunInfo {
	ri := RunInfo{Path: dir}
	f, err := sd.OpenFile(rel(dir, "events.jsonl"), os.O_RDONLY, 0)
	if err != nil {
		return ri
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var ev struct {
			Type   string `json:"type"`
			Result string `json:"result"`
			Exit   *int   `json:"exit"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil && ev.Type == "summary" {
			ri.Result, ri.Exit = ev.Result, ev.Exit
		}
	}
	return ri
}

// maxManifest bounds a backup manifest read by status.
const maxManifest = 1 << 20

func backupInfo(sd *statedir.Dir, dir string) BackupInfo {
	bi := BackupInfo{Path: dir}
	b, err := sd.ReadFile(rel(dir, "manifest.json"), maxManifest)
	if err == nil {
		var man struct {
			SHA256   string `json:"sha256"`
			Size     int64  `json:"size"`
			Board    string `json:"board"`
			Verified bool   `json:"verified"`
		}
		if json.Unmarshal(b, &man) == nil {
			bi.SHA256, bi.Size = strings.ToLower(man.SHA256), man.Size
			bi.Board, bi.Verified = man.Board, man.Verified
		}
	}
	return bi
}
