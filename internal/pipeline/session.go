package pipeline

import (
	"bytes"
	"context"
	"io"
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

	// locks (the state directory's, the chip's) are inherited by every
	// flasher run and record its pid while it runs (issue 13 item 3).
	locks []*statedir.Held

	mu    sync.Mutex
	reads int
}

// withLocks gives o the session's locks: inherited by the flasher, its pid
// recorded in them until it has exited.
func (s *session) withLocks(o IO) IO {
	for _, h := range s.locks {
		if h != nil {
			o.Inherit = append(o.Inherit, h.File())
		}
	}
	o.OnStart = func(pid int) {
		for _, h := range s.locks {
			if h != nil {
				_ = h.SetFlasher(pid)
			}
		}
	}
	return o
}

// flasherDone clears the flasher's pid from the locks: it has exited.
func (s *session) flasherDone() {
	for _, h := range s.locks {
		if h != nil {
			_ = h.SetFlasher(0)
		}
	}
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
// diagnosis; all of it is in flasher.log.
const maxDiagLog = 8 << 20

// capped keeps the first max bytes written to it.
type capped struct {
	bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		if len(p) > room {
			c.Buffer.Write(p[:room])
		} else {
			c.Buffer.Write(p)
		}
	}
	return len(p), nil
}

func (s *session) logWriter(buf *capped) io.Writer {
	if s.log == nil {
		return buf
	}
	return io.MultiWriter(s.log, buf)
}

// probe asks the flasher which chip is there.
func (s *session) probe(ctx context.Context, stage string) (*Probe, []byte, error) {
	buf := &capped{max: maxDiagLog}
	var p *Probe
	_, err := runOp(s.emit, s.tick, flasherOp{Stage: stage, Op: PhaseProbe, IO: s.withLocks(IO{Log: s.logWriter(buf)})}, &s.said, nil,
		func(o IO) (*runner.Result, error) {
			var err error
			p, err = s.fl.Probe(ctx, o)
			return nil, err
		})
	s.flasherDone()
	if p != nil {
		s.runs.add(p.Runs...)
	}
	return p, buf.Bytes(), err
}

// read reads the whole chip into file: pass n of passes (0 when alone).
func (s *session) read(ctx context.Context, stage string, pass, passes int, file string, shield bool) (*runner.Result, []byte, error) {
	buf := &capped{max: maxDiagLog}
	res, err := runOp(s.emit, s.tick, flasherOp{Stage: stage, Op: PhaseRead, Pass: pass, Passes: passes,
		IO: s.withLocks(IO{Log: s.logWriter(buf), Shield: shield})}, &s.said, s.addReads,
		func(o IO) (*runner.Result, error) { return s.fl.Read(ctx, file, o) })
	s.flasherDone()
	if res != nil {
		s.runs.add(res.Argv)
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
	buf := &capped{max: maxDiagLog}
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
		IO: s.withLocks(IO{Log: s.logWriter(buf), Shield: true, OnEvent: onEvent})}, &s.said, s.addReads,
		func(o IO) (*runner.Result, error) { return s.fl.Write(ctx, w, o) })
	s.flasherDone()
	if fr.res != nil {
		s.runs.add(fr.res.Argv)
	}
	fr.log = buf.Bytes()
	return fr
}
