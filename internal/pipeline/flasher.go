package pipeline

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"libreflash/internal/runner"
)

// FlasherOp is one run of the flasher as the user sees it.
type FlasherOp struct {
	// Op is shown from the start ("read"); "" waits until the flasher names
	// its first stage (a -w starts by reading the old contents).
	Op           string
	Pass, Passes int // "read 1 of 2"; 0 when there is one pass
	Spec         runner.Spec
}

// runOp runs the flasher and reports it as progress events: a start and
// an ok/fail per kind of work the flasher announces (read, erase, write,
// verify), its percentages when it prints them and only then, and every
// tick the elapsed time, so a flasher without --progress is visibly alive.
// Flasher warnings and errors become log events, each once per said map.
// While o.Spec.Shield is set, a signal is reported, not obeyed.
func runOp(ctx context.Context, f *runner.Flasher, emit Sink, tick time.Duration, o FlasherOp, said *seen) (*runner.Result, error) {
	r := &opReporter{emit: emit, pass: o.Pass, passes: o.Passes}
	r.mu.Lock()
	if o.Op != "" {
		r.start(o.Op, false)
	}
	r.mu.Unlock()

	spec := o.Spec
	userEvent := spec.OnEvent
	spec.OnEvent = func(e runner.Event) {
		r.event(e, said)
		if userEvent != nil {
			userEvent(e)
		}
	}
	userSignal := spec.OnSignal
	spec.OnSignal = func(sig os.Signal) {
		emit(ShieldedSignal(sig))
		if userSignal != nil {
			userSignal(sig)
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
	res, err := f.Run(ctx, spec)
	close(stop)
	wg.Wait()
	r.mu.Lock()
	r.end(err == nil)
	r.mu.Unlock()
	return res, err
}

// ShieldedSignal is the event for a signal received while the flasher
// erases or writes: libreflash goes on until the chip is safe.
func ShieldedSignal(sig os.Signal) Event {
	return Event{Type: TypeLog, Level: "warn", Message: fmt.Sprintf(
		"received %s: libreflash will stop once the chip is safe; the flasher keeps going until then",
		runner.SignalName(sig))}
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

type opReporter struct {
	emit         Sink
	pass, passes int

	mu          sync.Mutex
	op          string // open op, "" if none
	named       bool   // the flasher itself announced op
	started     time.Time
	percent     int // last percentage of op, -1 if none
	lastElapsed float64
}

func (r *opReporter) ev(status string) Event {
	e := Event{Type: TypeProgress, Op: r.op, Pass: r.pass, Passes: r.passes, Status: status,
		Elapsed: time.Since(r.started).Seconds()}
	if r.percent >= 0 {
		e.Percent = Percent(r.percent)
	}
	// Elapsed never goes backwards, whatever the clock's resolution.
	if e.Elapsed <= r.lastElapsed {
		e.Elapsed = r.lastElapsed + 1e-6
	}
	r.lastElapsed = e.Elapsed
	return e
}

// start opens op; the caller holds mu.
func (r *opReporter) start(op string, named bool) {
	r.op, r.named, r.started, r.percent, r.lastElapsed = op, named, time.Now(), -1, 0
	r.emit(r.ev(StatusStart))
}

// end closes the open op, if any; the caller holds mu.
func (r *opReporter) end(ok bool) {
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
func (r *opReporter) switchTo(op string) {
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

func (r *opReporter) event(e runner.Event, said *seen) {
	switch e.Kind {
	case runner.EvStageStart:
		if e.Stage == runner.StageProbe {
			return
		}
		r.mu.Lock()
		if r.op == string(e.Stage) && r.named {
			// The flasher restarted the same stage: a new op.
			r.end(true)
		}
		r.switchTo(string(e.Stage))
		r.mu.Unlock()
	case runner.EvStageEnd:
		r.mu.Lock()
		r.end(e.OK)
		r.mu.Unlock()
	case runner.EvProgress:
		r.mu.Lock()
		op := string(e.Phase)
		if op == "" {
			op = r.op
		}
		if op != "" && op != r.op {
			if r.op != "" && r.percent < 0 {
				// A write stage measures its erase first, then its
				// write: the bar takes the name of the work measured.
				r.start(op, true)
			} else {
				r.switchTo(op)
			}
		}
		if op != "" && e.Percent != r.percent {
			r.percent = e.Percent
			r.emit(r.ev(""))
		}
		r.mu.Unlock()
	case runner.EvWarning, runner.EvError:
		if said.first(e.Text) {
			level := "warn"
			if e.Kind == runner.EvError {
				level = "error"
			}
			r.emit(Event{Type: TypeLog, Level: level, Message: e.Text})
		}
	}
}

func (r *opReporter) tick() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.op != "" {
		r.emit(r.ev(""))
	}
}
