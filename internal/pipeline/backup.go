package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/renameio/v2"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// Checker runs the machine checks for the programmer and returns them all;
// those with Blocks set stop the run. The command layer wires it to
// internal/preflight.
type Checker func(ctx context.Context, programmer string, f *runner.Flasher) ([]Check, error)

// BackupOptions configure Backup.
type BackupOptions struct {
	Programmer  string          // passed as -p; default "internal"
	FlasherPath string          // --flasher; "" searches for flashprog, then flashrom
	Flasher     *runner.Flasher // an already found flasher; overrides FlasherPath
	StateDir    string          // default DefaultStateDir
	Root        string          // host root for DMI; default "/"
	Check       Checker         // nil runs no checks
	// Diagnose turns a failed flasher log and the flasher's exit status
	// (-1 when it did not exit normally) into findings; nil emits none.
	Diagnose func(log []byte, exitCode int) []diagnose.Finding
	Sink     Sink
	Now      func() time.Time
	// Reads, when not nil, is told of every chip read (the install's
	// one read counter).
	Reads func(n int)
	// Tick is how often a running flasher operation reports its elapsed
	// time (and last known percentage); default one second.
	Tick time.Duration
}

// Manifest is $STATE/backups/<dir>/manifest.json.
type Manifest struct {
	Format     int          `json:"format"`
	Created    time.Time    `json:"created"`
	Verified   bool         `json:"verified"` // the two reads were equal
	File       string       `json:"file,omitempty"`
	SHA256     string       `json:"sha256,omitempty"`
	Size       int64        `json:"size"`
	Chip       ChipRef      `json:"chip"`
	Flasher    FlasherRef   `json:"flasher"`
	Programmer string       `json:"programmer"`
	Board      string       `json:"board"`
	DMI        DMI          `json:"dmi"`
	Reads      []ReadRecord `json:"reads"`
}

// FlasherRef identifies the flasher used.
type FlasherRef struct {
	Path    string `json:"path"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// ReadRecord is one read of the chip.
type ReadRecord struct {
	File    string   `json:"file,omitempty"` // kept only when the reads differ
	SHA256  string   `json:"sha256"`
	Size    int64    `json:"size"`
	Argv    []string `json:"argv"`
	Command string   `json:"command"`
	Seconds float64  `json:"seconds"`
}

// readPasses is how many times the chip is read; all must agree.
const readPasses = 2

// Backup reads the chip twice and keeps the read as a verified backup when
// both agree. It always returns a Summary (also sent last to o.Sink); the
// error, when not nil, carries the exit code and hint.
func Backup(ctx context.Context, o BackupOptions) (*Summary, error) {
	b := &backup{o: o, sum: &Summary{}, said: &seen{}, runs: &runCounter{}}
	if b.o.Programmer == "" {
		b.o.Programmer = "internal"
	}
	b.o.StateDir = absStateDir(b.o.StateDir)
	if b.o.Root == "" {
		b.o.Root = "/"
	}
	if b.o.Now == nil {
		b.o.Now = time.Now
	}
	if b.o.Tick <= 0 {
		b.o.Tick = time.Second
	}
	err := b.run(ctx)
	b.finish(err)
	return b.sum, err
}

type backup struct {
	o   BackupOptions
	sum *Summary

	mu      sync.Mutex
	pending []Event // events before the run directory exists
	file    Sink    // events.jsonl once it exists
	evFile  *os.File

	flasher *runner.Flasher
	chip    runner.Chip
	log     *os.File // $STATE/runs/<ts>/flasher.log
	logPath string
	said    *seen       // flasher warnings and errors already shown
	runs    *runCounter // chip-touching flasher runs
}

// emit sends e to the caller and to events.jsonl, in order.
func (b *backup) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = b.o.Now().UTC()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.o.Sink != nil {
		b.o.Sink(e)
	}
	if b.file != nil {
		b.file(e)
	} else {
		b.pending = append(b.pending, e)
	}
}

func (b *backup) stage(name, status string) {
	b.emit(Event{Data: &Stage{Stage: name, Status: status}})
}

func (b *backup) run(ctx context.Context) error {
	// check: the flasher, then the machine. Nothing is written before
	// both pass, not even the state directory.
	b.stage("check", StatusStart)
	f := b.o.Flasher
	if f == nil {
		var err error
		f, err = runner.Find(ctx, runner.FindOptions{Explicit: b.o.FlasherPath})
		if err != nil {
			b.stage("check", StatusFail)
			return err
		}
	}
	b.flasher = f
	b.emit(Event{Data: flasherInfo(f)})
	if b.o.Check != nil {
		results, err := b.o.Check(ctx, b.o.Programmer, f)
		if err != nil {
			b.stage("check", StatusFail)
			return err
		}
		var blockers []Check
		for _, c := range results {
			c := c
			b.emit(Event{Data: &c})
			if c.Blocks {
				blockers = append(blockers, c)
			}
		}
		if len(blockers) > 0 {
			b.emit(Event{Data: &Stage{Stage: StageCheck, Status: StatusFail, Reason: ReasonBlocked}})
			return blockedByChecks(blockers)
		}
	}
	b.stage("check", StatusOK)
	if err := ctx.Err(); err != nil {
		return cancelled(err)
	}

	// lock, and the run's own directory for its events and flasher log.
	b.stage("lock", StatusStart)
	if err := statedir.Ensure(b.o.StateDir); err != nil {
		b.stage("lock", StatusFail)
		return err
	}
	unlock, err := statedir.Lock(b.o.StateDir)
	if err != nil {
		b.stage("lock", StatusFail)
		return err
	}
	defer unlock()
	if err := b.openRun(); err != nil {
		b.stage("lock", StatusFail)
		return err
	}
	b.stage("lock", StatusOK)

	// plan: which chip is there.
	b.stage("plan", StatusStart)
	fmt.Fprintf(b.log, "# libreflash: probe: %s\n", runner.QuoteArgv([]string{f.Path, "-p", b.o.Programmer}))
	probe, err := f.Probe(ctx, b.o.Programmer, b.log)
	b.runs.add(len(probe.Runs)) // --flash-name (and --flash-size if its chip line had no size)
	if err != nil {
		b.stage("plan", StatusFail)
		if runner.IsCancelled(err) {
			return cancelled(err)
		}
		return b.flasherFailed(err, "could not identify the flash chip")
	}
	chip := probe.Chip
	b.chip = chip
	b.sum.Chip = &ChipRef{Vendor: chip.Vendor, Name: chip.Name, Size: chip.SizeBytes}
	b.emit(Event{Data: &Plan{Chip: *b.sum.Chip, Programmer: programmerName(b.o.Programmer),
		Region: RegionFull, RegionReason: RegionDefault, Steps: []string{StepBackup},
		ChipReads: readPasses, FlasherRuns: len(probe.Runs) + readPasses, Percentages: f.Caps.Progress}})
	b.stage("plan", StatusOK)

	b.stage("backup", StatusStart)
	if err := b.readAndKeep(ctx); err != nil {
		b.stage("backup", StatusFail)
		return err
	}
	b.stage("backup", StatusOK)
	return nil
}

// openRun creates $STATE/runs/<ts>/ with events.jsonl (holding the events
// so far) and flasher.log.
func (b *backup) openRun() error {
	runs := statedir.Runs(b.o.StateDir)
	if err := statedir.Ensure(runs); err != nil {
		return err
	}
	dir, err := mkdirNew(runs, stamp(b.o.Now()))
	if err != nil {
		return err
	}
	ev, err := os.OpenFile(filepath.Join(dir, "events.jsonl"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	b.logPath = filepath.Join(dir, "flasher.log")
	lg, err := os.OpenFile(b.logPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		ev.Close()
		return err
	}
	b.log = lg
	b.sum.Log = b.logPath
	b.sum.Events = ev.Name()
	b.mu.Lock()
	b.evFile = ev
	b.file = JSONLines(ev)
	for _, e := range b.pending {
		b.file(e)
	}
	b.pending = nil
	b.mu.Unlock()
	return nil
}

// readAndKeep reads the chip readPasses times into a new backup directory
// and keeps the first read as backup.rom when all agree.
func (b *backup) readAndKeep(ctx context.Context) error {
	backups := statedir.Backups(b.o.StateDir)
	if err := statedir.Ensure(backups); err != nil {
		return err
	}
	dmi := ReadDMI(b.o.Root)
	now := b.o.Now().UTC()
	dir, err := mkdirNew(backups, stamp(now)+"-"+dmi.Board())
	if err != nil {
		return err
	}
	// Until the end, everything in dir is ours to remove: a failed or
	// stopped backup leaves nothing behind (but its log, in runs/).
	keep := false
	var made []string
	defer func() {
		if keep {
			return
		}
		for _, p := range made {
			os.Remove(p)
		}
		os.Remove(dir)
	}()

	m := &Manifest{
		Format: 1, Created: now, Size: b.chip.SizeBytes,
		Chip:       ChipRef{Vendor: b.chip.Vendor, Name: b.chip.Name, Size: b.chip.SizeBytes},
		Flasher:    FlasherRef{Path: b.flasher.Path, Kind: b.flasher.Kind, Version: b.flasher.Version},
		Programmer: b.o.Programmer, Board: dmi.Board(), DMI: dmi,
	}
	var partials []string
	for pass := 1; pass <= readPasses; pass++ {
		if err := ctx.Err(); err != nil {
			return cancelled(err)
		}
		p := filepath.Join(dir, fmt.Sprintf(".read-%d.rom.partial", pass))
		made = append(made, p)
		partials = append(partials, p)
		rec, err := b.readOnce(ctx, pass, p)
		if err != nil {
			return err
		}
		m.Reads = append(m.Reads, rec)
	}

	if m.Reads[0].SHA256 != m.Reads[1].SHA256 || m.Reads[0].Size != m.Reads[1].Size {
		// Keep both for inspection, under names that say what they are.
		for i, p := range partials {
			name := fmt.Sprintf("read-%d.rom", i+1)
			if err := os.Rename(p, filepath.Join(dir, name)); err != nil {
				return err
			}
			made = append(made, filepath.Join(dir, name))
			m.Reads[i].File = name
		}
		if err := b.writeManifest(dir, m); err != nil {
			return err
		}
		keep = true
		return exitcode.New(exitcode.Blocked,
			"a flash chip that reads differently twice cannot be written safely: check the programmer\n"+
				"(clip, wiring, power) or the machine, then run 'libreflash backup' again\n"+
				"both reads are kept in "+dir+" for inspection",
			"the two reads of the chip differ (sha256 %s and %s)", short(m.Reads[0].SHA256), short(m.Reads[1].SHA256))
	}

	// Both agree: the first read becomes backup.rom, the second goes.
	final := filepath.Join(dir, "backup.rom")
	if err := os.Rename(partials[0], final); err != nil {
		return err
	}
	made = append(made, final)
	if err := os.Remove(partials[1]); err != nil {
		return err
	}
	m.Verified, m.File, m.SHA256 = true, "backup.rom", m.Reads[0].SHA256
	if err := b.writeManifest(dir, m); err != nil {
		return err
	}
	made = append(made, filepath.Join(dir, "manifest.json"))
	if err := b.copyLog(dir); err != nil {
		return err
	}
	made = append(made, filepath.Join(dir, "flasher.log"))
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return cancelled(err)
	}
	keep = true
	b.sum.Backup = &BackupRef{Path: final, SHA256: m.SHA256, Dir: dir}
	b.emit(Event{Data: &VerifiedBackup{BackupRef: *b.sum.Backup, Role: RoleBackup, Reads: readPasses}})
	return nil
}

// readOnce runs one read of the whole chip into path, with progress events,
// and returns its record. The file is complete, 0600, and synced on return.
func (b *backup) readOnce(ctx context.Context, pass int, path string) (ReadRecord, error) {
	args := []string{"-r", path}
	if b.flasher.Caps.Progress {
		args = append([]string{"--progress"}, args...)
	}
	argv := append([]string{b.flasher.Path, "-p", b.o.Programmer}, args...)
	fmt.Fprintf(b.log, "# libreflash: read %d of %d: %s\n", pass, readPasses, runner.QuoteArgv(argv))

	res, err := runOp(ctx, counted(b.flasher, b.runs), b.emit, b.o.Tick, flasherOp{
		Stage: StageBackup, Op: PhaseRead, Pass: pass, Passes: readPasses,
		Spec: runner.Spec{Programmer: b.o.Programmer, Args: args, Log: b.log},
	}, b.said, b.o.Reads)
	if err != nil {
		os.Remove(path)
		if runner.IsCancelled(err) {
			return ReadRecord{}, cancelled(err)
		}
		return ReadRecord{}, b.flasherFailed(err, fmt.Sprintf("read %d of %d failed", pass, readPasses))
	}

	sum, size, err := hashFile(path)
	if err == nil && size != b.chip.SizeBytes {
		err = fmt.Errorf("read %d of %d: %s has %d bytes, the chip %d", pass, readPasses, path, size, b.chip.SizeBytes)
	}
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		os.Remove(path)
		return ReadRecord{}, err
	}
	b.sum.ChipReads++
	return ReadRecord{SHA256: sum, Size: size, Argv: res.Argv, Command: runner.QuoteArgv(res.Argv),
		Seconds: res.Duration.Seconds()}, nil
}

// hashFile returns the sha256 and size of path, after syncing it: the
// flasher does not fsync, and a backup must survive a power cut.
func hashFile(path string) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return "", 0, err
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func (b *backup) writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(dir, "manifest.json"), append(data, '\n'), 0o600)
}

// copyLog puts the flasher log of this run beside the backup.
func (b *backup) copyLog(dir string) error {
	if err := b.log.Sync(); err != nil {
		return err
	}
	data, err := os.ReadFile(b.logPath)
	if err != nil {
		return err
	}
	return renameio.WriteFile(filepath.Join(dir, "flasher.log"), data, 0o600)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// flasherFailed turns a failed flasher run into findings (when a diagnoser
// is wired) and a blocked error: a backup that cannot read the chip stops
// everything before any write.
func (b *backup) flasherFailed(err error, what string) error {
	if b.o.Diagnose != nil && b.log != nil {
		_ = b.log.Sync()
		if data, rerr := os.ReadFile(b.logPath); rerr == nil {
			exit := -1
			var re *runner.RunError
			if errors.As(err, &re) {
				exit = re.ExitCode
			}
			for _, f := range b.o.Diagnose(data, exit) {
				f := f
				b.emit(Event{Data: &Finding{f}})
			}
		}
	}
	hint := "run 'libreflash diagnose " + b.logPath + "' for the cause and its fix"
	if b.logPath == "" {
		hint = "run 'libreflash check' to see what stops the flasher"
	}
	return &exitcode.E{Code: exitcode.Blocked, Err: fmt.Errorf("%s: %w", what, err), Tip: hint}
}

// finish fills in the summary, sends it, and closes the run's files.
func (b *backup) finish(err error) {
	s := b.sum
	s.FlasherRuns = b.runs.count()
	s.Exit = exitcode.OK
	s.Result = ResultOK
	if err != nil {
		s.Error = err.Error()
		var h exitcode.Hinter
		if errors.As(err, &h) {
			s.Hint = h.Hint()
		}
		s.Exit = exitcode.Error
		var c exitcode.Coder
		if errors.As(err, &c) {
			s.Exit = c.ExitCode()
		}
		switch s.Exit {
		case exitcode.Blocked:
			s.Result = ResultBlocked
		case exitcode.Cancelled:
			s.Result = ResultCancelled
		default:
			s.Result = ResultFailed
		}
	}
	b.emit(Event{Data: s})
	if b.log != nil {
		b.log.Close()
	}
	b.mu.Lock()
	if b.evFile != nil {
		b.evFile.Close()
	}
	b.mu.Unlock()
}

// blockedByChecks is the error for blocking checks: exit 3, the fixes as
// the hint.
func blockedByChecks(bl []Check) error {
	var ids []string
	for _, c := range bl {
		ids = append(ids, c.ID)
	}
	// Each fix is in its check's event: said once, not again here.
	return &exitcode.E{Code: exitcode.Blocked,
		Err: fmt.Errorf("blocked by check(s) %s; nothing was read or written", strings.Join(ids, ", ")),
		Tip: "fix what the failing checks say, then run the same command again"}
}

// cancelled is the error for a run the user stopped before any write.
func cancelled(err error) error {
	if runner.IsCancelled(err) {
		return &exitcode.E{Code: exitcode.Cancelled, Err: fmt.Errorf("backup cancelled (%w); no backup was kept", err)}
	}
	return &exitcode.E{Code: exitcode.Cancelled, Err: errors.New("backup cancelled; no backup was kept")}
}

func short(sum string) string {
	if len(sum) > 16 {
		return sum[:16] + "…"
	}
	return sum
}

// HumanSize renders a flash size the way people name chips: "16 MiB",
// "512 KiB", else bytes.
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
