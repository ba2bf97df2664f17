package pipeline

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// session is one run's use of the flasher: every flasher operation goes
// through it, so backup and install share one progress adapter, one read
// counter, one count of chip-touching runs, one flasher log and one memory
// of the flasher messages already shown.
type session struct {
	fl   Flasher
	emit Sink
	log  io.Writer // the run's flasher.log
	tick time.Duration
	said seen
	runs runCounter
	// locks are held while the flasher runs: each flasher run inherits
	// them, so they stay held if libreflash is killed while it runs, and
	// records its pid in them, so a later run refuses to start beside it.
	locks []*statedir.Held

	mu    sync.Mutex
	reads int
}

func (s *session) addReads(n int) {
	s.mu.Lock()
	s.reads += n
	s.mu.Unlock()
}

func (s *session) chipReads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads
}

// maxDiagLog bounds the output of one flasher run kept in memory for its
// diagnosis, half from its start and half from its end (where the flasher
// says what failed); all of it is in flasher.log.
const maxDiagLog = 8 << 20

func newDiagLog() *runner.Excerpt { return runner.NewExcerpt(maxDiagLog/2, maxDiagLog/2) }

// withLocks gives o the locks to inherit and records the flasher's pid in
// them while it runs; done clears the pid again.
func (s *session) withLocks(o IO) (IO, func()) {
	var held []*statedir.Held
	for _, l := range s.locks {
		if l != nil && l.File() != nil {
			held = append(held, l)
			o.Inherit = append(o.Inherit, l.File())
		}
	}
	o.OnStart = func(pid int) {
		for _, l := range held {
			_ = l.SetFlasher(pid)
		}
	}
	return o, func() {
		for _, l := range held {
			_ = l.SetFlasher(0)
		}
	}
}

func (s *session) logWriter(buf *runner.Excerpt) io.Writer {
	if s.log == nil {
		return buf
	}
	return io.MultiWriter(s.log, buf)
}

// probe asks the flasher which chip is there.
func (s *session) probe(ctx context.Context, stage string) (*Probe, []byte, error) {
	buf := newDiagLog()
	var p *Probe
	_, err := runOp(s.emit, s.tick, flasherOp{Stage: stage, Op: PhaseProbe, IO: IO{Log: s.logWriter(buf)}}, &s.said, nil,
		func(o IO) (*runner.Result, error) {
			o, done := s.withLocks(o)
			defer done()
			var err error
			p, err = s.fl.Probe(ctx, o)
			return nil, err
		})
	if p != nil {
		s.runs.add(p.Runs...)
	}
	return p, buf.Bytes(), err
}

// read reads the whole chip into file, a new name in the state directory:
// pass n of passes (0 when alone). file is made 0600 before the flasher
// writes into it and is 0600 after, whatever the umask (statedir.NewOutput);
// a read that fails leaves no empty file behind.
func (s *session) read(ctx context.Context, stage string, pass, passes int, file string, shield bool) (*runner.Result, []byte, error) {
	if err := statedir.NewOutput(file); err != nil {
		return nil, nil, err
	}
	buf := newDiagLog()
	res, err := runOp(s.emit, s.tick, flasherOp{Stage: stage, Op: PhaseRead, Pass: pass, Passes: passes,
		IO: IO{Log: s.logWriter(buf), Shield: shield}}, &s.said, s.addReads,
		func(o IO) (*runner.Result, error) {
			o, done := s.withLocks(o)
			defer done()
			return s.fl.Read(ctx, file, o)
		})
	if res != nil {
		s.runs.add(res.Argv)
	}
	if err == nil {
		err = statedir.Private(file)
	} else if fi, serr := os.Lstat(file); serr == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
		os.Remove(file)
	}
	return res, buf.Bytes(), err
}

// flashRun is what one shielded write (the image, or the backup when
// rolling back) did, as the flasher told it.
type flashRun struct {
	res       *runner.Result
	err       error
	log       []byte
	wrote     bool // an erase or write stage started
	verified  bool // the flasher's own verification passed
	identical bool // nothing to write ("Chip content is identical")
	unknown   bool // "Your flash chip is in an unknown state."
	unchanged bool // "writing to the flash chip apparently didn't do anything"
}

// exitCode is the flasher's exit status, -1 when it did not exit normally.
func (fr *flashRun) exitCode() int {
	if fr.res == nil {
		return -1
	}
	return fr.res.ExitCode
}

// write runs one write, shielded from signals: nothing stops it half-way.
func (s *session) write(ctx context.Context, stage string, w WriteOp) *flashRun {
	buf := newDiagLog()
	fr := &flashRun{}
	var mu sync.Mutex
	onEvent := func(e runner.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case runner.EvStageStart:
			if e.Stage == runner.StageWrite || e.Stage == runner.StageErase {
				fr.wrote = true
			}
		case runner.EvStageEnd:
			if e.Stage == runner.StageVerify && e.OK {
				fr.verified = true
			}
		case runner.EvUnknownState:
			fr.unknown = true
		case runner.EvUnchanged:
			fr.unchanged = true
		case runner.EvIdentical:
			fr.identical = true
		}
	}
	fr.res, fr.err = runOp(s.emit, s.tick, flasherOp{Stage: stage,
		IO: IO{Log: s.logWriter(buf), Shield: true, OnEvent: onEvent}}, &s.said, s.addReads,
		func(o IO) (*runner.Result, error) {
			o, done := s.withLocks(o)
			defer done()
			return s.fl.Write(ctx, w, o)
		})
	if fr.res != nil {
		s.runs.add(fr.res.Argv)
	}
	fr.log = buf.Bytes()
	return fr
}
