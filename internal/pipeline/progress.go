package pipeline

import (
	"os"
	"sync"
	"time"

	"libreflash/internal/runner"
)

// flasherOp is one run of the flasher as the user sees it.
type flasherOp struct {
	// Stage is the pipeline stage the run belongs to (backup, write,
	// verify, rollback); it is copied into every progress event.
	Stage string
	// Op is shown from the start ("read"); "" waits until the flasher
	// names its first phase (a -w starts by reading the old contents).
	Op           Phase
	Pass, Passes int // "read 1 of 2"; 0 when there is one pass
	IO           IO
}

// progressAdapter turns one flasher run's output events into progress
// events: a start and an ok/fail per phase the flasher announces (read,
// erase, write, verify), its percentages when it prints them and only
// then, and every tick the elapsed time, so that a flasher without
// --progress is visibly alive. Flasher warnings and errors become
// flasher_message events, each once per run (said). It is the one
// adapter for backup and install.
type progressAdapter struct {
	emit         Sink
	stage        string
	pass, passes int
	said         *seen
	reads        func(n int) // told of each chip read the flasher starts

	mu          sync.Mutex
	op          Phase // open phase, "" if none
	named       bool  // the flasher itself announced op
	started     time.Time
	percent     int // last percentage of op, -1 if none
	lastElapsed float64
	given       Phase         // the phase pass/passes belong to (flasherOp.Op)
	times       map[Phase]int // how often each phase started in this run
	opPass      int           // the open phase's pass/passes, as its events carry them
	opPasses    int
	reread      bool // op is a re-read of the chip after a failed erase attempt
	attempt     int  // the erase/write attempt under way, once one failed; else 0
}

// runOp runs one flasher operation (run, given the IO to use) and reports
// it through emit. While o.IO.Shield is set, a signal is reported (a
// signal event), not obeyed. reads, when not nil, is told of every chip
// read the flasher starts.
func runOp(emit Sink, tick time.Duration, o flasherOp, said *seen, reads func(int), run func(IO) (*runner.Result, error)) (*runner.Result, error) {
	r := &progressAdapter{emit: emit, stage: o.Stage, pass: o.Pass, passes: o.Passes, said: said, reads: reads,
		given: o.Op, times: map[Phase]int{}}
	r.mu.Lock()
	if o.Op != "" {
		r.start(o.Op, false)
	}
	r.mu.Unlock()

	spec := o.IO
	userEvent := spec.OnEvent
	spec.OnEvent = func(e runner.Event) {
		r.event(e)
		if userEvent != nil {
			userEvent(e)
		}
	}
	userSignal := spec.OnSignal
	spec.OnSignal = func(sig os.Signal) {
		emit(Event{Data: &Signal{Signal: runner.SignalName(sig), Stage: o.Stage}})
		if userSignal != nil {
			userSignal(sig)
		}
	}

	var (
		endMu sync.Mutex
		left  []*runner.Result // runs that left processes behind
	)
	userEnd := spec.OnEnd
	spec.OnEnd = func(res *runner.Result) {
		if len(res.Strays) > 0 || res.OutputHeld {
			endMu.Lock()
			left = append(left, res)
			endMu.Unlock()
		}
		if userEnd != nil {
			userEnd(res)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.tick()
			}
		}
	}()
	res, err := run(spec)
	close(stop)
	wg.Wait()
	r.mu.Lock()
	r.end(err == nil)
	r.mu.Unlock()
	endMu.Lock()
	defer endMu.Unlock()
	for _, l := range left {
		emit(Event{Data: straysEvent(o, l)})
	}
	return res, err
}

// straysEvent is the flasher_strays event of a run that left processes
// behind.
func straysEvent(o flasherOp, res *runner.Result) *Strays {
	ev := &Strays{Stage: o.Stage, Op: runPhase(res.Argv), PID: res.Pid, Killed: res.Strays, Held: res.Held}
	if ev.Op == PhaseRead {
		ev.Pass, ev.Passes = o.Pass, o.Passes
	}
	if res.OutputHeld {
		ev.Waited = runner.PipeGrace().Seconds()
	}
	return ev
}

// runPhase is what a flasher command line does, as a phase: a run with
// no operation probes.
func runPhase(argv []string) Phase {
	if op := runner.OperationOf(argv); op != "" {
		return Phase(op)
	}
	return PhaseProbe
}

// seen remembers flasher messages already shown in this run.
type seen struct {
	mu sync.Mutex
	m  map[string]bool
}

// first reports whether text is new, and remembers it.
func (s *seen) first(text string) bool {
	if s == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	if s.m[text] {
		return false
	}
	s.m[text] = true
	return true
}

func (r *progressAdapter) ev(status string) Event {
	p := &Progress{Stage: r.stage, Op: r.op, Pass: r.opPass, Passes: r.opPasses, Status: status,
		Elapsed: time.Since(r.started).Seconds()}
	if r.percent >= 0 {
		p.Percent = Percent(r.percent)
	}
	// Elapsed never goes backwards, whatever the clock's resolution.
	if p.Elapsed <= r.lastElapsed {
		p.Elapsed = r.lastElapsed + 1e-6
	}
	r.lastElapsed = p.Elapsed
	return Event{Data: p}
}

// start opens op; the caller holds mu. The pass is the one given for the
// run's phase (read n of m); for an erase or write once an attempt failed,
// the attempt; else, when the flasher does a phase again within the run
// (the re-read after a failed erase, a second read), the how-manieth time
// it is: from 2, of an unknown number.
func (r *progressAdapter) start(op Phase, named bool) {
	r.op, r.named, r.started, r.percent, r.lastElapsed = op, named, time.Now(), -1, 0
	r.times[op]++
	switch n := r.times[op]; {
	case r.passes > 0 && op == r.given:
		r.opPass, r.opPasses = r.pass, r.passes
	case r.attempt > 0 && (op == PhaseErase || op == PhaseWrite):
		r.opPass, r.opPasses = r.attempt, 0
	case n > 1:
		r.opPass, r.opPasses = n, 0
	default:
		r.opPass, r.opPasses = 0, 0
	}
	if r.reads != nil && (op == PhaseRead || op == PhaseVerify) {
		r.reads(1)
	}
	r.emit(r.ev(StatusStart))
}

// end closes the open op, if any; the caller holds mu.
func (r *progressAdapter) end(ok bool) {
	if r.op == "" {
		return
	}
	status := StatusOK
	if !ok {
		status = StatusFail
	}
	r.emit(r.ev(status))
	r.op = ""
}

// switchTo makes op the open one: continuing it when it is the op shown
// before the flasher spoke, else ending the old and starting the new.
func (r *progressAdapter) switchTo(op Phase) {
	if r.op == op && !r.named {
		r.named = true
		return
	}
	if r.op == op {
		return
	}
	r.end(true)
	r.start(op, true)
}

// toPhase makes op the open one when the flasher's work changes; the
// caller holds mu.
func (r *progressAdapter) toPhase(op Phase) {
	if op == "" || op == r.op {
		return
	}
	if r.op != "" && r.percent < 0 {
		// A write stage measures its erase first, then its write: the
		// bar takes the name of the work measured, and the phase it
		// replaces, having measured nothing, did not happen.
		r.times[r.op]--
		r.start(op, true)
		return
	}
	r.switchTo(op)
}

func (r *progressAdapter) event(e runner.Event) {
	switch e.Kind {
	case runner.EvStageStart:
		if e.Stage == runner.StageProbe {
			return
		}
		r.mu.Lock()
		if r.op == Phase(e.Stage) && r.named {
			// The flasher restarted the same phase: a new op.
			r.end(true)
		}
		r.switchTo(Phase(e.Stage))
		r.mu.Unlock()
	case runner.EvStageEnd:
		r.mu.Lock()
		r.end(e.OK)
		r.mu.Unlock()
	case runner.EvProgress:
		r.mu.Lock()
		op := Phase(e.Phase)
		if op == "" {
			op = r.op
		}
		r.toPhase(op)
		if op != "" && e.Percent != r.percent {
			r.percent = e.Percent
			r.emit(r.ev(""))
		}
		r.mu.Unlock()
	case runner.EvPhase:
		// the work changed within the flasher's stage: erase, erase
		// check, program, or a re-read of the chip after a failed erase
		r.mu.Lock()
		switch ph := Phase(e.Phase); {
		case e.FullRead && ph == PhaseRead && r.op != "" && r.op != PhaseRead && r.op != PhaseVerify:
			// flashrom ≤1.3 and flashprog read the chip again when an
			// erase attempt failed, then try another erase function:
			// the attempt ends failed, its number said (1 when
			// first); the re-read has a pass of its own, and what the
			// next attempt erases or writes the next number.
			r.attempt = max(r.attempt, 1)
			if r.opPass == 0 {
				r.opPass = r.attempt
			}
			r.end(false)
			r.attempt++
			r.start(PhaseRead, true)
			r.reread = true
		case r.reread && ph != PhaseRead:
			// the re-read is done: the next attempt
			r.reread = false
			r.end(true)
			r.start(ph, true)
		default:
			r.toPhase(ph)
		}
		r.mu.Unlock()
	case runner.EvWarning, runner.EvError, runner.EvUnknownState:
		if r.said.first(e.Text) {
			level := "warn"
			if e.Kind != runner.EvWarning {
				level = "error"
			}
			r.emit(Event{Data: &FlasherMessage{Level: level, Text: e.Text, Line: e.Line}})
		}
	}
}

func (r *progressAdapter) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.op != "" {
		r.emit(r.ev(""))
	}
}
