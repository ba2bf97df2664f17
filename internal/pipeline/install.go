package pipeline

import (
	"context"
	"fmt"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/inhibit"
	"libreflash/internal/preflight"
	"libreflash/internal/restore"
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
	// UnlockTool is --unlock-tool (dell_flash_unlock), "" to search for
	// it; UnlockTimeout bounds each of its runs (0: unlock.DefaultTimeout).
	UnlockTool    string
	UnlockTimeout time.Duration
	NoRestore     bool   // leave the lowered protections in place
	StateDir      string // $STATE
	// Archive options, when ROM is a release archive: the key to check its
	// signature with, skipping that check, and the image to take from it.
	Keyring           string
	NoVerifySignature bool
	ROMName           string
	// MAC is --mac: "" (this machine's own, from the backup), keep, random
	// or an address (rom.MAC*).
	MAC string
	// AllowNonCoreboot writes an image that is not coreboot and no known
	// backup (--allow-non-coreboot).
	AllowNonCoreboot bool

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
	// RunDir is where the chip locks live; "" means /run/libreflash below
	// Env.Root. The command passes the one below the root it changes.
	RunDir string
	// Flasher, when set, is the flasher to run (tests: a fake);
	// FlasherPath is then not searched and a rehearsal is not possible.
	Flasher Flasher
	// Protections gives the restore.Manager that lowers and raises the
	// protections (boot configuration, drivers) for a state directory; nil
	// means one over Env.Root. The command passes the same one prepare and
	// restore use.
	Protections func(stateDir string) *restore.Manager
	// Confirm asks the user a yes/no question (the plan, or a prepare
	// action); nil means yes (--yes).
	Confirm func(question string) bool
	// Choose asks the user to pick one of several options (the image of a
	// release archive) and returns its index, or false when the user gave
	// none. nil: no one to ask (--yes, no terminal): the run stops and
	// says how to name one (--rom).
	Choose func(question string, options []string) (int, bool)
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

// installer is one install run: its options, its event stream and
// record, its flasher session and the checks' report. The stages hand
// their results on as values (plan → backup → write).
type installer struct {
	o     InstallOptions
	start time.Time
	out   *stream
	rec   *record
	s     *session
	sum   Summary

	stateDir   string // $STATE, or $STATE/rehearsals for a rehearsal
	report     *preflight.Report
	wouldBlock []string // a rehearsal's failing checks that stop a real run

	smisDisabled bool // the Dell unlock cycle disabled SMIs in this run
	shutDown     bool // the Dell unlock cycle armed the override: shut down next
	unlocked     bool // the Dell unlock cycle unlocked the flash in this run

	// previous is an earlier run that did not finish: resolved once this
	// run leaves the chip in a known state.
	previous *statedir.Run
	lock     *statedir.Held // $STATE/lock
	cleanups []func()       // run when the install ends (a rehearsal's comma-free chip path)
	// chipLock and inhibitor are held while the chip may be touched
	// (chipaccess.go).
	chipLock  *statedir.Held
	inhibitor *inhibit.Lock
}

// protections is the restore.Manager for this run's state directory.
func (in *installer) protections() *restore.Manager {
	var m *restore.Manager
	if in.o.Protections != nil {
		m = in.o.Protections(in.o.StateDir)
	} else {
		m = restore.New(in.o.Env.Root, in.o.StateDir)
	}
	in.dellUndoer(m)
	return m
}

// Install runs check, plan, lock, backup, write, verify and restore, as
// docs/design.md says, and emits the summary last. The returned Summary is
// never nil; the error, when not nil, carries the exit code and hint.
func Install(ctx context.Context, o InstallOptions) (*Summary, error) {
	in := &installer{o: o, start: time.Now(), out: &stream{sink: o.Emit}}
	in.s = &session{emit: in.out.emit, tick: time.Second}
	if in.o.Programmer == "" {
		in.o.Programmer = "internal"
	}
	if in.o.Region == "" {
		in.o.Region = "auto"
	}
	in.o.StateDir = absStateDir(in.o.StateDir)
	w, err := in.install(ctx)
	s := in.finish(w, err)
	// The lock outlives the summary: the next run must not find this one's
	// record unfinished.
	in.lock.Unlock()
	in.chipLock.Unlock()
	in.inhibitor.Release()
	for _, f := range in.cleanups {
		f()
	}
	return s, err
}

func (in *installer) install(ctx context.Context) (*written, error) {
	o := in.o
	switch o.Region {
	case "auto", "full", "bios":
	default:
		return nil, exitcode.New(exitcode.Usage, "use --region auto, full or bios", "unknown region mode %q", o.Region)
	}
	if o.RehearseFrom != "" && !o.Rehearse {
		return nil, exitcode.New(exitcode.Usage, "add --rehearse", "--rehearse-from needs --rehearse")
	}
	if o.Env == nil {
		in.o.Env = preflight.HostEnv()
	}
	src, err := openSource(o)
	if err != nil {
		return nil, err
	}
	in.sum.SignatureSkipped = src.rel != nil && src.rel.Verified.Signature == "skipped"
	var found *runner.Flasher
	if o.Flasher == nil {
		if found, err = runner.Find(ctx, runner.FindOptions{Explicit: o.FlasherPath}); err != nil {
			return nil, err
		}
	}

	// The lock comes before the checks: prepare changes the system, and the
	// plan's probe already talks to the flash controller, which must never
	// happen while another run writes.
	in.stateDir = o.StateDir
	if o.Rehearse {
		in.stateDir = statedir.Rehearsals(o.StateDir)
	}
	in.stage(StageLock, StatusStart)
	if in.lock, err = statedir.Acquire(in.stateDir); err != nil {
		in.stage(StageLock, StatusFail)
		return nil, err
	}
	if in.chipLock, err = lockChip(o.Env.Root, o.RunDir, o.Programmer, o.Rehearse); err != nil {
		in.stage(StageLock, StatusFail)
		return nil, err
	}
	in.s.locks = []*statedir.Held{in.lock, in.chipLock}
	in.stage(StageLock, StatusOK)
	if in.rec, err = newRecord(in.stateDir, "install", in.start, o.ROM); err != nil {
		return nil, err
	}
	in.out.attach(in.rec)
	in.s.log = in.rec.log
	in.sum.Log, in.sum.Events = in.rec.logPath, in.rec.eventsPath
	var prev *PreviousRun
	if p, ok := previousRun(in.stateDir, in.rec.dir); ok {
		prev = previousEvent(p)
		in.emit(prev)
		in.previous = &p
	}

	if found != nil {
		in.o.Env = WithFlasher(in.o.Env, o.FlasherPath, found)
	}
	if err := in.check(ctx); err != nil {
		return nil, err
	}
	if !o.Rehearse {
		// From the first chip access (the plan's probe) to the end.
		in.inhibitor = takeInhibitor(ctx, o.Env)
	}
	// Until the first write the chip is untouched: a failure or a ^C
	// enables the SMIs the Dell unlock disabled.
	pl, err := in.plan(ctx, src, found, prev)
	if err != nil {
		in.reenableSMIs(ctx)
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		in.reenableSMIs(ctx)
		return nil, installCancelled("before the backup")
	}
	bk, err := in.backup(ctx, pl)
	if err != nil {
		in.reenableSMIs(ctx)
		return nil, err
	}
	if err := in.checkLayout(pl, bk); err != nil {
		in.reenableSMIs(ctx)
		return nil, err
	}
	if err := in.carryMAC(pl, bk); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		in.reenableSMIs(ctx)
		return nil, installCancelled("after the backup, before any write")
	}
	// From the first write on, nothing stops half-way: the user's ^C is
	// recorded and honoured once the chip is in a known state.
	wctx := context.WithoutCancel(ctx)
	w := &written{plan: pl, backup: bk}
	if err := in.writeAndVerify(wctx, w); err != nil {
		return w, err
	}
	in.restoreProtections(wctx)
	return w, nil
}

// finish fills in and emits the summary.
func (in *installer) finish(w *written, err error) *Summary {
	s := &in.sum
	if w != nil {
		s.Backup = w.backup.target
		s.Chip = &w.plan.chip
	}
	s.ChipReads, s.FlasherRuns = in.s.chipReads(), in.s.runs.count()
	s.Result, s.Exit, s.Error, s.Hint = outcome(err)
	s.Seconds = time.Since(in.start).Round(time.Millisecond).Seconds()
	s.Rehearsal = in.o.Rehearse
	s.Next = in.nextSteps(s, w)
	if in.previous != nil && w != nil && (s.Result == ResultOK || s.Result == ResultUnchanged || s.Result == ResultRolledBack) {
		resolve(*in.previous, in.rec.dir)
	}
	in.out.emit(Event{Data: s})
	if in.rec != nil {
		in.rec.close()
	}
	return s
}

func (in *installer) emit(p Payload) { in.out.emit(Event{Data: p}) }

func (in *installer) stage(name, status string) {
	in.emit(&Stage{Stage: name, Status: status})
}

func (in *installer) stageWhy(name, status, reason string) {
	in.emit(&Stage{Stage: name, Status: status, Reason: reason})
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
func (in *installer) nextSteps(s *Summary, w *written) []Next {
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
		first := Next{ID: NextReboot}
		if in.unlocked {
			// The unlock tool's last word: shut down (the override and
			// the EC's state end with the power).
			first = Next{ID: NextShutDown}
		}
		next := append([]Next{first}, keep...)
		return append(next, Next{ID: NextOldSettings})
	case ResultUnchanged, ResultRolledBack:
		next := []Next{{ID: NextSafeToReboot}, {ID: NextFixAndRetry, Command: retry}}
		return append(next, keep...)
	case ResultUnknownState:
		return in.recoverySteps(w)
	case ResultPrepared:
		if in.shutDown {
			return []Next{{ID: NextShutDown}, {ID: NextRunAgain, Command: retry}}
		}
		return []Next{{ID: NextReboot}, {ID: NextRunAgain, Command: retry}}
	case ResultBlocked:
		return []Next{{ID: NextFixAndRetry, Command: retry}}
	case ResultCancelled:
		return []Next{{ID: NextRunAgain, Command: retry}}
	}
	return nil
}
