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
	// Use, when set, is the flasher to run (tests: a fake); Flasher and
	// FlasherPath are then not looked at.
	Use      Flasher
	StateDir string // default DefaultStateDir
	Root     string // host root for DMI; default "/"
	// RunDir is where the chip locks live; "" means /run/libreflash below
	// Root. The command passes the one below the root it changes (a
	// fixture's root is only read).
	RunDir string
	Check  Checker
	// Diagnose turns a failed flasher log and the flasher's exit status
	// (-1 when it did not exit normally) into findings; nil emits none.
	Diagnose func(log []byte, exitCode int) []diagnose.Finding
	Sink     Sink
	Now      func() time.Time
	// Tick is how often a running flasher operation reports its elapsed
	// time (and last known percentage); default one second.
	Tick time.Duration
}

// Manifest is $STATE/backups/<dir>/manifest.json.
type Manifest struct {
	Format   int       `json:"format"`
	Created  time.Time `json:"created"`
	Verified bool      `json:"verified"` // the two reads were equal
	// Role is backup (the chip before any write) or snapshot (a chip an
	// earlier run left in an unknown state: never the way back).
	Role       string       `json:"role,omitempty"`
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
	File    string   `json:"file,omitempty"` // the read as kept
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
	if o.Programmer == "" {
		o.Programmer = "internal"
	}
	o.StateDir = absStateDir(o.StateDir)
	if o.Root == "" {
		o.Root = "/"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Tick <= 0 {
		o.Tick = time.Second
	}
	b := &backupRun{o: o, out: &stream{sink: o.Sink, now: o.Now}}
	b.s = &session{emit: b.out.emit, tick: o.Tick}
	sum := &Summary{}
	err := b.run(ctx, sum)
	b.finish(sum, err)
	return sum, err
}

type backupRun struct {
	o   BackupOptions
	out *stream
	s   *session
	rec *record
}

func (b *backupRun) stage(name, status string) {
	b.out.emit(Event{Data: &Stage{Stage: name, Status: status}})
}

func (b *backupRun) run(ctx context.Context, sum *Summary) error {
	// check: the flasher, then the machine. Nothing is written before
	// both pass, not even the state directory.
	b.stage(StageCheck, StatusStart)
	fl := b.o.Use
	if fl == nil {
		f := b.o.Flasher
		if f == nil {
			var err error
			if f, err = runner.Find(ctx, runner.FindOptions{Explicit: b.o.FlasherPath}); err != nil {
				b.stage(StageCheck, StatusFail)
				return err
			}
		}
		if b.o.Check != nil {
			results, err := b.o.Check(ctx, b.o.Programmer, f)
			if err != nil {
				b.stage(StageCheck, StatusFail)
				return err
			}
			var blockers []Check
			for _, c := range results {
				b.out.emit(Event{Data: &c})
				if c.Blocks {
					blockers = append(blockers, c)
				}
			}
			if len(blockers) > 0 {
				b.out.emit(Event{Data: &Stage{Stage: StageCheck, Status: StatusFail, Reason: ReasonBlocked}})
				return blockedByChecks(blockers)
			}
		}
		fl = NewFlasher(f, b.o.Programmer)
	}
	b.s.fl = fl
	info := fl.Info()
	b.out.emit(Event{Data: &info})
	b.stage(StageCheck, StatusOK)
	if err := ctx.Err(); err != nil {
		return cancelled(err)
	}

	// lock, and the run's record.
	b.stage(StageLock, StatusStart)
	if err := statedir.Ensure(b.o.StateDir); err != nil {
		b.stage(StageLock, StatusFail)
		return err
	}
	lock, err := statedir.Acquire(b.o.StateDir)
	if err != nil {
		b.stage(StageLock, StatusFail)
		return err
	}
	defer lock.Unlock()
	chip, err := lockChip(b.o.Root, b.o.RunDir, b.o.Programmer, false)
	if err != nil {
		b.stage(StageLock, StatusFail)
		return err
	}
	defer chip.Unlock()
	b.s.locks = []*statedir.Held{lock, chip}
	if b.rec, err = newRecord(b.o.StateDir, "backup", b.o.Now(), ""); err != nil {
		b.stage(StageLock, StatusFail)
		return err
	}
	b.out.attach(b.rec)
	b.s.log = b.rec.log
	sum.Log, sum.Events = b.rec.logPath, b.rec.eventsPath
	b.stage(StageLock, StatusOK)
	// An earlier install that stopped while writing left the chip in an
	// unknown state: what this backup reads is a snapshot of that, never
	// the way back (issue 13 item 1).
	role := RoleBackup
	if prev, ok := previousRun(b.o.StateDir, b.rec.dir); ok {
		p := previousEvent(prev)
		b.out.emit(Event{Data: p})
		if p.Writing {
			role = RoleSnapshot
		}
	}

	// plan: which chip is there.
	b.stage(StagePlan, StatusStart)
	probe, plog, err := b.s.probe(ctx, StagePlan)
	if err != nil {
		b.stage(StagePlan, StatusFail)
		if runner.IsCancelled(err) {
			return cancelled(err)
		}
		return b.flasherFailed(plog, err, "could not identify the flash chip")
	}
	sum.Chip = &probe.Chip
	b.out.emit(Event{Data: &Plan{Chip: probe.Chip, Programmer: programmerName(b.o.Programmer),
		Region: RegionFull, RegionReason: RegionDefault, Locked: probe.Locked, Steps: []string{StepBackup},
		ChipReads: readPasses, FlasherRuns: len(probe.Runs) + readPasses, Percentages: info.Progress}})
	b.stage(StagePlan, StatusOK)

	b.stage(StageBackup, StatusStart)
	kept, err := readTwice(ctx, b.s, readSpec{stateDir: b.o.StateDir, root: b.o.Root, chip: probe.Chip,
		info: info, programmer: b.o.Programmer, role: role, now: b.o.Now, log: b.rec.log,
		failed: func(log []byte, err error, what string) error { return b.flasherFailed(log, err, what) }})
	if err != nil {
		b.stage(StageBackup, StatusFail)
		return err
	}
	if role == RoleBackup {
		b.rec.setBackups(&kept.BackupRef, nil)
		sum.Backup = &kept.BackupRef
	} else {
		b.rec.setBackups(nil, &kept.BackupRef)
	}
	b.stage(StageBackup, StatusOK)
	return nil
}

// flasherFailed turns a failed flasher run into findings (when a diagnoser
// is wired) and a blocked error: a backup that cannot read the chip stops
// everything before any write.
func (b *backupRun) flasherFailed(log []byte, err error, what string) error {
	if b.o.Diagnose != nil {
		for _, f := range b.o.Diagnose(log, flasherExit(err)) {
			b.out.emit(Event{Data: &Finding{f}})
		}
	}
	hint := "run 'libreflash diagnose " + b.rec.logPath + "' for the cause and its fix"
	return &exitcode.E{Code: exitcode.Blocked, Err: fmt.Errorf("%s: %w", what, err), Tip: hint}
}

// flasherExit is the flasher's exit status in err, -1 when it did not exit
// normally or did not run.
func flasherExit(err error) int {
	var re *runner.RunError
	if errors.As(err, &re) {
		return re.ExitCode
	}
	return -1
}

// finish fills in the summary, sends it, and closes the run's files.
func (b *backupRun) finish(s *Summary, err error) {
	s.ChipReads, s.FlasherRuns = b.s.chipReads(), b.s.runs.count()
	s.Result, s.Exit, s.Error, s.Hint = outcome(err)
	b.out.emit(Event{Data: s})
	if b.rec != nil {
		b.rec.close()
	}
}

// outcome is the result, exit code, error and hint of a run that ended
// with err.
func outcome(err error) (result string, exit int, msg, hint string) {
	if err == nil {
		return ResultOK, exitcode.OK, "", ""
	}
	// The one mapping from an error to its exit code and hint, as the
	// command layer's.
	exit, hint = exitcode.Of(err), exitcode.HintOf(err)
	var ie *InstallError
	switch {
	case errors.As(err, &ie):
		result = ie.Result
	case exit == exitcode.Blocked || exit == exitcode.Usage:
		result = ResultBlocked
	case exit == exitcode.Cancelled:
		result = ResultCancelled
	default:
		result = ResultFailed
	}
	return result, exit, err.Error(), hint
}

// readSpec is what a verified double read needs to know.
type readSpec struct {
	stateDir, root string
	chip           ChipRef
	info           FlasherInfo
	programmer     string
	role           string
	now            func() time.Time
	log            *os.File // the run's flasher.log, copied beside the backup
	// failed makes the error for a failed read from its log.
	failed func(log []byte, err error, what string) error
}

// readTwice reads the chip readPasses times into a new directory under
// $STATE/backups and keeps the reads as backup.rom and read-2.rom when all
// agree, with manifest.json recording their sha256 (issue 13 item 5: a
// rollback checks the backup against it, and falls back on the other
// read). Reads that differ are kept for inspection, and stop the run.
func readTwice(ctx context.Context, s *session, r readSpec) (*VerifiedBackup, error) {
	backups := statedir.Backups(r.stateDir)
	if err := statedir.Ensure(backups); err != nil {
		return nil, err
	}
	dmi := ReadDMI(r.root)
	now := r.now().UTC()
	dir, err := mkdirNew(backups, stamp(now)+"-"+dmi.Board())
	if err != nil {
		return nil, err
	}
	// Until the end, everything in dir is ours to remove: a failed or
	// stopped backup leaves nothing behind (but its log, in runs/).
	keep := false
	var made []string
	// Each read is hashed and synced while the next one runs.
	var hashing sync.WaitGroup
	sums := make([]struct {
		sum  string
		size int64
		err  error
	}, readPasses)
	defer func() {
		hashing.Wait()
		if keep {
			return
		}
		for _, p := range made {
			os.Remove(p)
		}
		os.Remove(dir)
	}()

	m := &Manifest{
		Format: 1, Created: now, Size: r.chip.Size, Chip: r.chip, Role: r.role,
		Flasher:    FlasherRef{Path: r.info.Path, Kind: r.info.Kind, Version: r.info.Version},
		Programmer: r.programmer, Board: dmi.Board(), DMI: dmi,
	}
	var partials []string
	for pass := 1; pass <= readPasses; pass++ {
		if err := ctx.Err(); err != nil {
			return nil, cancelled(err)
		}
		p := filepath.Join(dir, fmt.Sprintf(".read-%d.rom.partial", pass))
		made = append(made, p)
		partials = append(partials, p)
		res, log, err := s.read(ctx, StageBackup, pass, readPasses, p, false)
		if err != nil {
			os.Remove(p)
			if runner.IsCancelled(err) {
				return nil, cancelled(err)
			}
			return nil, r.failed(log, err, fmt.Sprintf("read %d of %d failed", pass, readPasses))
		}
		hashing.Add(1)
		go func(i int, p string) {
			defer hashing.Done()
			h := &sums[i]
			// The first read becomes backup.rom and must survive a power
			// cut; the second is a spare, checked by its sha256 before use.
			h.sum, h.size, h.err = hashFile(p, i == 0)
			if h.err == nil && h.size != r.chip.Size {
				h.err = fmt.Errorf("read %d of %d: %s has %d bytes, the chip %d", i+1, readPasses, p, h.size, r.chip.Size)
			}
		}(pass-1, p)
		rec := ReadRecord{}
		if res != nil {
			rec.Argv, rec.Command, rec.Seconds = res.Argv, runner.QuoteArgv(res.Argv), res.Duration.Seconds()
		}
		m.Reads = append(m.Reads, rec)
	}
	hashing.Wait()
	for i, h := range sums {
		if h.err != nil {
			return nil, h.err
		}
		m.Reads[i].SHA256, m.Reads[i].Size = h.sum, h.size
	}

	names := []string{"backup.rom", "read-2.rom"}
	same := m.Reads[0].SHA256 == m.Reads[1].SHA256 && m.Reads[0].Size == m.Reads[1].Size
	if !same {
		names = []string{"read-1.rom", "read-2.rom"}
	}
	for i, p := range partials {
		final := filepath.Join(dir, names[i])
		if err := os.Rename(p, final); err != nil {
			return nil, err
		}
		made = append(made, final)
		m.Reads[i].File = names[i]
	}
	if !same {
		if err := writeManifest(dir, m); err != nil {
			return nil, err
		}
		keep = true
		return nil, exitcode.New(exitcode.Blocked,
			"a flash chip that reads differently twice cannot be written safely: check the programmer\n"+
				"(clip, wiring, power) or the machine, then run again\n"+
				"both reads are kept in "+dir+" for inspection",
			"the two reads of the chip differ (sha256 %s and %s)", short(m.Reads[0].SHA256), short(m.Reads[1].SHA256))
	}

	m.Verified, m.File, m.SHA256 = true, names[0], m.Reads[0].SHA256
	if err := writeManifest(dir, m); err != nil {
		return nil, err
	}
	made = append(made, filepath.Join(dir, "manifest.json"))
	if r.log != nil {
		// The flasher's log of the reads, beside them.
		if err := r.log.Sync(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(r.log.Name())
		if err != nil {
			return nil, err
		}
		if err := statedir.WriteFile(filepath.Join(dir, "flasher.log"), data, true); err != nil {
			return nil, err
		}
		made = append(made, filepath.Join(dir, "flasher.log"))
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	keep = true
	kept := &VerifiedBackup{BackupRef: BackupRef{Path: filepath.Join(dir, names[0]), SHA256: m.SHA256, Dir: dir},
		Role: r.role, Reads: readPasses}
	s.emit(Event{Data: kept})
	return kept, nil
}

// hashFile returns the sha256 and size of path, after syncing it when
// durable: the flasher does not fsync, and a backup must survive a power
// cut.
func hashFile(path string, durable bool) (string, int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	if durable {
		if err := f.Sync(); err != nil {
			return "", 0, err
		}
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func writeManifest(dir string, m *Manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return statedir.WriteFile(filepath.Join(dir, "manifest.json"), append(data, '\n'), true)
}

// readManifest reads a backup's manifest.json.
func readManifest(dir string) (*Manifest, error) {
	f, err := os.Open(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &Manifest{}
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(m); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return m, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// blockedByChecks is the error for blocking checks: exit 3.
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
