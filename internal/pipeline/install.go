package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// Install results beyond the common ones (summary.result, docs/design.md).
const (
	ResultPrepared     = "prepared"
	ResultUnchanged    = "unchanged"
	ResultRolledBack   = "rolled_back"
	ResultUnknownState = "unknown_state"
)

// InstallOptions are the install command's inputs.
type InstallOptions struct {
	ROM         string // the image to write
	Programmer  string // flasher -p; "" means internal
	FlasherPath string // --flasher; "" searches $PATH
	Region      string // auto (""), full or bios
	ForceBoard  bool   // accept an image for another board
	ForceRoute  bool   // go on where the board's route says external/jumper/unlock first
	NoRestore   bool   // leave the lowered protections in place
	StateDir    string // $STATE

	// Rehearse runs the whole pipeline on an emulated chip (the dummy
	// programmer) seeded from RehearseFrom, or from FactoryImage.
	Rehearse     bool
	RehearseFrom string
	// RehearseParams are more dummy parameters for the emulated chip
	// ("freq=5MHz" for a slow chip); for benchmarks and tests.
	RehearseParams []string

	// Env is the machine the checks look at; its Root is also where DMI
	// is read.
	Env *preflight.Env
	// Protections gives the restore.Manager that lowers and raises the
	// protections (boot configuration, drivers) for a state directory; nil
	// means one over Env.Root. The command passes the same one prepare and
	// restore use.
	Protections func(stateDir string) *restore.Manager
	// Confirm asks the user a yes/no question (the plan, or a prepare
	// action); nil means yes (--yes).
	Confirm func(question string) bool
	// Emit receives every event, the summary last. May be nil.
	Emit Sink
	// Command is the command line to tell the user to run again (after a
	// reboot, or to retry); "" gives a generic one.
	Command string
	// RealCommand is the real install a rehearsal stands for.
	RealCommand string
}

// InstallError ends an install with a result other than ok. It carries the
// exit code and the hint, so the command layer prints it like any error.
type InstallError struct {
	Result string
	Code   int
	Err    error
	Tip    string
}

func (e *InstallError) Error() string { return e.Err.Error() }
func (e *InstallError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *InstallError) ExitCode() int { return e.Code }

// Hint implements exitcode.Hinter.
func (e *InstallError) Hint() string { return e.Tip }

// installer is one install run.
type installer struct {
	o     InstallOptions
	start time.Time
	emit  Sink

	stateDir string // $STATE, or $STATE/rehearsals for a rehearsal
	run      *runDir
	sum      Summary

	img       *rom.Image
	fl        *runner.Flasher
	report    *preflight.Report
	prog      string // -p for every flasher run
	chip      runner.Chip
	region    bool   // --ifd -i bios
	image     string // the checked image, copied into the run directory
	backup    *BackupRef
	signals   []os.Signal
	said      seen       // flasher warnings and errors already shown
	runs      runCounter // chip-touching flasher runs
	probeRuns int        // flasher runs the chip probe made (runner.Probe.Runs)

	wouldBlock []string // a rehearsal's failing checks that stop a real run

	early    []Event  // emitted before the run directory existed
	unlock   func()   // releases $STATE/lock
	cleanups []func() // run when the install ends (a rehearsal's comma-free chip path)

	mu    sync.Mutex
	reads int // chip read passes so far
}

// protections is the restore.Manager for this run's state directory.
func (in *installer) protections() *restore.Manager {
	if in.o.Protections != nil {
		return in.o.Protections(in.o.StateDir)
	}
	return restore.New(in.o.Env.Root, in.o.StateDir)
}

// Install runs lock, check, plan, backup, write, verify and restore, as
// docs/design.md says, and emits the summary last. The returned Summary is
// never nil; the error, when not nil, carries the exit code and hint.
func Install(ctx context.Context, o InstallOptions) (*Summary, error) {
	in := &installer{o: o, start: time.Now()}
	in.emit = func(e Event) {
		if e.Time.IsZero() {
			e.Time = time.Now().UTC()
		}
		if in.run != nil {
			in.run.record(e)
		} else {
			in.early = append(in.early, e)
		}
		if o.Emit != nil {
			o.Emit(e)
		}
	}
	if in.o.Programmer == "" {
		in.o.Programmer = "internal"
	}
	if in.o.Region == "" {
		in.o.Region = "auto"
	}
	in.o.StateDir = absStateDir(in.o.StateDir)
	err := in.install(ctx)
	s := in.finish(err)
	// The lock outlives the summary: the next run must not find this one's
	// record unfinished.
	if in.unlock != nil {
		in.unlock()
	}
	for _, f := range in.cleanups {
		f()
	}
	return s, err
}

func (in *installer) install(ctx context.Context) error {
	o := in.o
	switch o.Region {
	case "auto", "full", "bios":
	default:
		return exitcode.New(exitcode.Usage, "use --region auto, full or bios", "unknown region mode %q", o.Region)
	}
	if o.RehearseFrom != "" && !o.Rehearse {
		return exitcode.New(exitcode.Usage, "add --rehearse", "--rehearse-from needs --rehearse")
	}

	img, err := rom.Open(o.ROM)
	if err != nil {
		return err
	}
	in.img = img
	fl, err := runner.Find(ctx, runner.FindOptions{Explicit: o.FlasherPath})
	if err != nil {
		return err
	}
	in.fl = fl
	in.emit(Event{Data: flasherInfo(fl)})

	// The lock comes before the checks: prepare changes the system, and the
	// plan's probe already talks to the flash controller, which must never
	// happen while another run writes.
	in.stateDir = o.StateDir
	if o.Rehearse {
		in.stateDir = filepath.Join(o.StateDir, "rehearsals")
	}
	in.stage(StageLock, StatusStart)
	if in.unlock, err = statedir.Lock(in.stateDir); err != nil {
		in.stage(StageLock, StatusFail)
		return err
	}
	in.stage(StageLock, StatusOK)
	in.reportPrevious()
	if in.run, err = newRunDir(statedir.Runs(in.stateDir), in.start, in.img.Path); err != nil {
		return err
	}
	for _, e := range in.early {
		in.run.record(e)
	}
	in.early = nil
	in.sum.Log = in.run.logPath
	in.sum.Events = in.run.eventsPath

	if err := in.check(ctx); err != nil {
		return err
	}
	if err := in.plan(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return installCancelled("before the backup")
	}
	if err := in.doBackup(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return installCancelled("after the backup, before any write")
	}
	// From the first write on, nothing stops half-way: the user's ^C is
	// recorded and honoured once the chip is in a known state.
	wctx := context.WithoutCancel(ctx)
	if err := in.writeAndVerify(wctx); err != nil {
		return err
	}
	in.restoreProtections(wctx)
	return nil
}

// finish fills in and emits the summary.
func (in *installer) finish(err error) *Summary {
	s := &in.sum
	s.Result, s.Exit = ResultOK, exitcode.OK
	if in.backup != nil {
		s.Backup = in.backup
	}
	if in.chip.SizeBytes > 0 {
		s.Chip = &ChipRef{Vendor: in.chip.Vendor, Name: in.chip.Name, Size: in.chip.SizeBytes}
	}
	s.ChipReads = in.chipReads()
	s.FlasherRuns = in.runs.count()
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
		var ie *InstallError
		switch {
		case errors.As(err, &ie):
			s.Result = ie.Result
		case s.Exit == exitcode.Blocked || s.Exit == exitcode.Usage:
			s.Result = ResultBlocked
		case s.Exit == exitcode.Cancelled:
			s.Result = ResultCancelled
		default:
			s.Result = ResultFailed
		}
	}
	s.Seconds = time.Since(in.start).Round(time.Millisecond).Seconds()
	s.Rehearsal = in.o.Rehearse
	s.Next = in.nextSteps(s)
	in.emit(Event{Data: s})
	if in.run != nil {
		in.run.close()
	}
	return s
}

func (in *installer) stage(name, status string) {
	in.emit(Event{Data: &Stage{Stage: name, Status: status}})
}

func (in *installer) stageWhy(name, status, reason string) {
	in.emit(Event{Data: &Stage{Stage: name, Status: status, Reason: reason}})
}

func (in *installer) addReads(n int) {
	in.mu.Lock()
	in.reads += n
	in.mu.Unlock()
}

func (in *installer) chipReads() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.reads
}

func installCancelled(when string) error {
	return &InstallError{Result: ResultCancelled, Code: exitcode.Cancelled,
		Err: fmt.Errorf("cancelled %s: the chip was not written", when),
		Tip: "nothing was written; run the same command again when you are ready"}
}

// retryCommand is what the user should type to run this install again.
func (in *installer) retryCommand() string {
	if in.o.Command != "" {
		return in.o.Command
	}
	return "sudo libreflash install " + shellQuote(in.o.ROM)
}

func shellQuote(s string) string {
	return runner.QuoteArgv([]string{s})
}

// nextSteps says what to do after a run that ended with s.
func (in *installer) nextSteps(s *Summary) []Next {
	var keep []Next
	if s.Backup != nil {
		keep = []Next{{ID: NextKeepBackup, Path: s.Backup.Path, SHA256: s.Backup.SHA256}}
	}
	retry := in.retryCommand()
	switch s.Result {
	case ResultOK:
		if in.o.Rehearse {
			real := in.o.RealCommand
			if real == "" {
				real = "sudo libreflash install " + shellQuote(in.o.ROM)
			}
			if len(in.wouldBlock) > 0 {
				// The rehearsal went through, but the real run would stop
				// at the checks: fixing them comes first.
				return []Next{{ID: NextFixAndRetry, Command: real}}
			}
			return []Next{{ID: NextRealInstall, Command: real}}
		}
		next := append([]Next{{ID: NextReboot}}, keep...)
		return append(next, Next{ID: NextOldSettings})
	case ResultUnchanged, ResultRolledBack:
		next := []Next{{ID: NextSafeToReboot}, {ID: NextFixAndRetry, Command: retry}}
		return append(next, keep...)
	case ResultUnknownState:
		return in.recoverySteps()
	case ResultPrepared:
		return []Next{{ID: NextReboot}, {ID: NextRunAgain, Command: retry}}
	case ResultBlocked:
		return []Next{{ID: NextFixAndRetry, Command: retry}}
	case ResultCancelled:
		return []Next{{ID: NextRunAgain, Command: retry}}
	}
	return nil
}
