package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"libreflash/internal/exitcode"
	"libreflash/internal/host"
)

// Spec is one run of the flasher.
type Spec struct {
	// Programmer is passed as -p; empty means no -p (help, version).
	Programmer string
	// Args are the flasher arguments after -p PROGRAMMER, e.g. {"-r", file}.
	Args []string
	// Log receives the full output, stdout and stderr interleaved in the
	// order the chunks arrived. May be nil.
	Log io.Writer
	// Shield is for erases and writes: signals to libreflash and context
	// cancellation do not stop the flasher; they are recorded in the Result
	// and reported through OnSignal, and the run goes on until the flasher
	// exits by itself. Without Shield a signal or cancellation stops the
	// flasher at once (its whole process group).
	Shield bool
	// OnEvent receives the parsed output, in order. May be nil. It is called
	// from the goroutines reading the pipes: keep it quick.
	OnEvent func(Event)
	// OnSignal is told about each signal received while shielded, so the
	// user can hear that libreflash will stop once the chip is safe.
	OnSignal func(os.Signal)
	// Inherit are open files the flasher inherits as descriptors 3, 4, …
	// (exec.Cmd.ExtraFiles). Pass the locked state-directory lock here and
	// the lock stays held for as long as the flasher lives, even if
	// libreflash dies first (a flock belongs to the open file, which the
	// child shares).
	Inherit []*os.File
	// OnStart, when set, is told the flasher's pid as soon as it runs (and
	// before Run returns), e.g. to record it in the run's state. Its
	// process group has the same id.
	OnStart func(pid int)
	// OnEnd, when set, is told the Result once the flasher and its process
	// group are gone and its output has ended, before Run returns.
	OnEnd func(*Result)
}

// Result is what a flasher run did.
type Result struct {
	Argv       []string
	Pid        int           // the flasher's pid (and process group), once started
	ExitCode   int           // -1 when killed by a signal
	Signalled  []os.Signal   // received by libreflash while the flasher ran
	Cancelled  bool          // the user asked to stop (signal or context)
	Killed     bool          // libreflash stopped the flasher (never when shielded)
	StderrTail string        // last lines of stderr (sanitised), for error messages
	Duration   time.Duration // wall time
	CPU        time.Duration // the flasher's user+system CPU time
	// Strays are the processes the flasher started that were still in its
	// process group after it exited: Run killed them (SIGKILL to the
	// group). The flasher's own exit status and output still decide the
	// result.
	Strays []Process
	// Held are processes outside the flasher's process group (started by
	// it, then gone their own way) that still held its output open
	// pipeGrace after the flasher and its group were gone: Run stopped
	// reading and went on. They were not killed and may still run.
	// OutputHeld is set even when they could not be named.
	Held       []Process
	OutputHeld bool
}

// Process is another process Run saw: its pid and its name (comm,
// sanitised).
type Process struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
}

// PipeGrace is how long Run waits, after the flasher and its process group
// are gone, for a process outside the group to let go of its output.
func PipeGrace() time.Duration { return pipeGrace }

// killGrace is how long a stopped flasher gets between SIGTERM and SIGKILL.
const killGrace = 2 * time.Second

// stderrTailBytes bounds the stderr kept for error messages.
const stderrTailBytes = 4096

// pipeGrace is how long Run waits, after the flasher and everything left
// in its process group are gone, for its output pipes to drain before it
// closes them: only a process that left the group can still hold them.
var pipeGrace = 2 * time.Second

// stopSignals are the signals that mean "stop" to libreflash. While the
// flasher runs they are caught, so that libreflash outlives it and cleans
// up; the flasher is in its own process group, so a ^C at the terminal
// reaches libreflash only.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// Run runs the flasher with s.Args (argv only, never a shell) and waits for
// it. It returns a non-nil Result whenever the flasher was started; the
// error is a *RunError for a non-zero exit or a failure to start, and a
// *CancelledError when libreflash stopped the flasher.
func (f *Flasher) Run(ctx context.Context, s Spec) (*Result, error) {
	argv := append([]string{f.Path}, s.Args...)
	if s.Programmer != "" {
		argv = append([]string{f.Path, "-p", s.Programmer}, s.Args...)
	}
	res := &Result{Argv: argv, ExitCode: -1}
	if Guard != nil {
		if err := Guard(argv); err != nil {
			return res, &RunError{Argv: argv, ExitCode: -1, Err: err}
		}
	}
	// Don't start what the user already cancelled, shielded or not.
	if err := ctx.Err(); err != nil {
		res.Cancelled = true
		return res, &CancelledError{Argv: argv, Err: err}
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = flasherEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.ExtraFiles = s.Inherit

	parser := NewParser(func(e Event) {
		if s.OnEvent != nil {
			s.OnEvent(e)
		}
	})
	parser.SetOperation(OperationOf(s.Args))
	var logw io.Writer = io.Discard
	if s.Log != nil {
		logw = &lockedWriter{w: s.Log}
	}
	tailw := NewExcerpt(0, stderrTailBytes)
	stdout := io.MultiWriter(logw, parser.Stream("stdout"))
	stderr := io.MultiWriter(logw, tailw, parser.Stream("stderr"))
	if t := Trace; t != nil {
		tout, terr := newTraceLines(t, argv, "stdout"), newTraceLines(t, argv, "stderr")
		stdout = io.MultiWriter(stdout, tout)
		stderr = io.MultiWriter(stderr, terr)
		t.Start(argv)
		start := time.Now()
		defer func() {
			tout.Close()
			terr.Close()
			t.End(argv, res.ExitCode, time.Since(start))
		}()
	}
	// Our own pipes, not exec's: Run decides when the output is complete
	// (the flasher exited and its process group is gone), not a stray
	// child that keeps a pipe open.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, &RunError{Argv: argv, ExitCode: -1, Err: err}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, &RunError{Argv: argv, ExitCode: -1, Err: err}
	}
	cmd.Stdout, cmd.Stderr = outW, errW

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, stopSignals...)
	defer signal.Stop(sigs)

	if s.Shield {
		// If libreflash itself dies while the flasher writes, the flasher
		// must not die of SIGPIPE on its next line of output: it would stop
		// half-way. Ignored signals are inherited across exec, so ignore
		// SIGPIPE while it starts.
		signal.Ignore(syscall.SIGPIPE)
	}
	start := time.Now()
	err = cmd.Start()
	if s.Shield {
		restoreSigpipe()
	}
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, &RunError{Argv: argv, ExitCode: -1, Err: err}
	}
	pgid := cmd.Process.Pid
	res.Pid = pgid
	if s.OnStart != nil {
		s.OnStart(pgid)
	}
	var copying sync.WaitGroup
	copying.Add(2)
	go copyOutput(&copying, stdout, outR)
	go copyOutput(&copying, stderr, errR)

	done := make(chan error, 1)
	go func() {
		// Wait for the flasher to exit without reaping it: while it is a
		// zombie its pid, and so its process group id, cannot be reused,
		// and whatever it left behind in the group can be killed safely.
		if exitedNoReap(pgid) {
			res.Strays = groupMembers(pgid)
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
		done <- cmd.Wait()
	}()

	var (
		waitErr error
		killT   <-chan time.Time
		ctxDone = ctx.Done()
	)
	stop := func() {
		if res.Killed {
			return
		}
		res.Killed = true
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		killT = time.After(killGrace)
	}
loop:
	for {
		select {
		case waitErr = <-done:
			break loop
		case sig := <-sigs:
			res.Signalled = append(res.Signalled, sig)
			res.Cancelled = true
			if s.Shield {
				if s.OnSignal != nil {
					s.OnSignal(sig)
				}
				continue
			}
			stop()
		case <-ctxDone:
			ctxDone = nil
			if s.Shield {
				// Recorded; the caller's signal handling has told the user.
				res.Cancelled = true
				continue
			}
			res.Cancelled = true
			stop()
		case <-killT:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			killT = nil
		}
	}
	// The flasher and its group are gone: the output ends when the pipes
	// drain, or after pipeGrace if something outside the group holds them.
	drained := make(chan struct{})
	go func() { copying.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(pipeGrace):
		res.OutputHeld = true
		res.Held = pipeHolders(outR, errR)
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()
	res.Duration = time.Since(start)
	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = ps.ExitCode()
		res.CPU = ps.UserTime() + ps.SystemTime()
	}
	parser.Close(res.ExitCode)
	res.StderrTail = Sanitize(tail(tailw.String(), 8))
	if s.OnEnd != nil {
		s.OnEnd(res)
	}

	if res.Killed {
		var sig os.Signal
		if n := len(res.Signalled); n > 0 {
			sig = res.Signalled[n-1]
		}
		return res, &CancelledError{Argv: argv, Signal: sig, Err: ctx.Err()}
	}
	if waitErr != nil || res.ExitCode != 0 {
		return res, &RunError{Argv: argv, ExitCode: res.ExitCode, StderrTail: res.StderrTail, Err: waitErr}
	}
	return res, nil
}

// Guard, when set, vets every flasher command line before it runs.
// Production leaves it nil. Test binaries set it to RefuseInternal (see the
// guard_test.go files), so that no test, however it regresses, can make a
// flasher reach the host's own flash chip.
var Guard func(argv []string) error

// RefuseInternal is a Guard that refuses the internal programmer.
func RefuseInternal(argv []string) error {
	for i, a := range argv {
		var p string
		switch {
		case (a == "-p" || a == "--programmer") && i+1 < len(argv):
			p = argv[i+1]
		case strings.HasPrefix(a, "--programmer="):
			p = strings.TrimPrefix(a, "--programmer=")
		case strings.HasPrefix(a, "-p") && len(a) > 2 && !strings.HasPrefix(a, "--"):
			p = a[2:]
		default:
			continue
		}
		if p == "internal" || strings.HasPrefix(p, "internal:") {
			return fmt.Errorf("test guard: refusing to run a flasher with -p %s outside a QEMU guest", p)
		}
	}
	return nil
}

// sigpipe keeps SIGPIPE notified for the life of the process; see
// SurviveBrokenPipes.
var sigpipe = make(chan os.Signal, 1)

// SurviveBrokenPipes makes a write to a closed stdout or stderr (libreflash
// --json | head, a pager the user quit) an ordinary write error instead of
// death by SIGPIPE: with SIGPIPE notified, the Go runtime returns EPIPE. A
// libreflash killed mid-write would leave the flasher writing unsupervised:
// no verify, no rollback, no restore, and the lock released. Main calls it
// first; Run calls it again after the shielded start's signal.Ignore.
func SurviveBrokenPipes() { signal.Notify(sigpipe, syscall.SIGPIPE) }

// restoreSigpipe undoes the signal.Ignore around a shielded start: Notify
// reinstalls the runtime's handler (and keeps libreflash alive on EPIPE).
func restoreSigpipe() { SurviveBrokenPipes() }

// RunError is a flasher run that failed: it exited non-zero, was killed,
// or could not start.
type RunError struct {
	Argv       []string
	ExitCode   int // -1 when it did not exit normally
	StderrTail string
	Err        error
}

func (e *RunError) Error() string {
	var b strings.Builder
	b.WriteString(quoteArgv(e.Argv))
	switch {
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	// One line of ours; the flasher's own words are quoted as data, its
	// full output is in the log.
	if last := lastLine(e.StderrTail); last != "" {
		fmt.Fprintf(&b, " (the flasher said %q)", last)
	}
	return b.String()
}

// lastLine is the last non-blank line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func (e *RunError) Unwrap() error { return e.Err }

// CancelledError says libreflash stopped the flasher because the user asked
// it to (a signal or a cancelled context). Only unshielded runs end so.
type CancelledError struct {
	Argv   []string
	Signal os.Signal // nil when the context was cancelled
	Err    error
}

func (e *CancelledError) Error() string {
	why := "cancelled"
	if e.Signal != nil {
		why = "stopped by " + signalName(e.Signal)
	}
	return fmt.Sprintf("%s: %s", quoteArg(filepathBase(e.Argv)), why)
}

func (e *CancelledError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *CancelledError) ExitCode() int { return exitcode.Cancelled }

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// SignalName is the conventional name of a stop signal ("SIGINT").
func SignalName(s os.Signal) string { return signalName(s) }

func filepathBase(argv []string) string {
	if len(argv) == 0 {
		return "flasher"
	}
	a := argv[0]
	if i := strings.LastIndexByte(a, '/'); i >= 0 {
		a = a[i+1:]
	}
	return a
}

// QuoteArgv renders argv for messages and logs, quoting what a shell would
// split; an argument with control characters, terminal-reordering
// characters or invalid UTF-8 is written as $'…' with escapes, so that it
// shows as it is and cannot drive the terminal. It is never given to a
// shell.
func QuoteArgv(argv []string) string { return quoteArgv(argv) }

// QuotePath renders one path (or any argument) for a message, as
// QuoteArgv does.
func QuotePath(p string) string { return quoteArg(p) }

func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quoteArg(a)
	}
	return strings.Join(q, " ")
}

func quoteArg(a string) string {
	if a != "" && strings.IndexFunc(a, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,+@%", r))
	}) < 0 {
		return a
	}
	if Sanitize(a) != a || strings.ContainsAny(a, "\n\t") {
		// ANSI-C quoting: every byte shows, none is a terminal control
		var b strings.Builder
		b.WriteString("$'")
		for i := 0; i < len(a); {
			r, n := utf8.DecodeRuneInString(a[i:])
			switch {
			case r == utf8.RuneError && n == 1, r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f, isBidiControl(r):
				for _, c := range []byte(a[i : i+n]) {
					fmt.Fprintf(&b, "\\x%02x", c)
				}
			case r == '\'' || r == '\\':
				b.WriteByte('\\')
				b.WriteRune(r)
			default:
				b.WriteRune(r)
			}
			i += n
		}
		b.WriteByte('\'')
		return b.String()
	}
	return "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
}

// lockedWriter serialises the two pipe copiers writing to the log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failing log must not stop the flasher's output from being read.
	if _, err := l.w.Write(b); err != nil {
		l.w = io.Discard
	}
	return len(b), nil
}

// parseFlashName finds the `vendor="V" name="N"` line.
func parseFlashName(out string) (vendor, name string, ok bool) {
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, `vendor="`) {
			continue
		}
		rest := l[len(`vendor="`):]
		i := strings.Index(rest, `" name="`)
		if i < 0 || !strings.HasSuffix(rest, `"`) {
			continue
		}
		return rest[:i], rest[i+len(`" name="`) : len(rest)-1], true
	}
	return "", "", false
}

// parseFlashSize finds the line that is only a decimal number of bytes.
func parseFlashSize(out string) (int64, bool) {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.Trim(l, "0123456789") != "" {
			continue
		}
		var n int64
		for _, c := range l {
			if n > (1<<62)/10 {
				return 0, false
			}
			n = n*10 + int64(c-'0')
		}
		return n, n > 0
	}
	return 0, false
}

// IsCancelled reports whether err says the user stopped the run.
func IsCancelled(err error) bool {
	var c *CancelledError
	return errors.As(err, &c)
}

// copyOutput copies one of the flasher's pipes to w until it ends or is
// closed. w never fails (see Parser, lockedWriter).
func copyOutput(wg *sync.WaitGroup, w io.Writer, r *os.File) {
	defer wg.Done()
	buf := make([]byte, 32<<10)
	_, _ = io.CopyBuffer(w, r, buf)
}

// groupMembers lists the processes other than pgid itself in process
// group pgid (from /proc).
func groupMembers(pgid int) []Process {
	var out []Process
	for _, pid := range host.PIDs() {
		if pid == pgid {
			continue
		}
		if st, err := host.ReadProcStat(pid); err == nil && st.PGRP == pgid {
			out = append(out, Process{PID: pid, Name: Sanitize(st.Comm)})
		}
	}
	return out
}

// pipeHolders lists the processes that have one of the pipes open (either
// end), from /proc/PID/fd, leaving out libreflash itself.
func pipeHolders(pipes ...*os.File) []Process {
	want := map[string]bool{}
	for _, p := range pipes {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(p.Fd()), &st); err == nil {
			want[fmt.Sprintf("pipe:[%d]", st.Ino)] = true
		}
	}
	self := os.Getpid()
	var out []Process
	for _, pid := range host.PIDs() {
		if pid == self {
			continue
		}
		dir := host.ProcDir(pid) + "/fd/"
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(dir + fd.Name()); err == nil && want[l] {
				st, _ := host.ReadProcStat(pid)
				out = append(out, Process{PID: pid, Name: Sanitize(st.Comm)})
				break
			}
		}
	}
	return out
}
