package runner

import (
	"strings"
	"sync"
	"time"
)

// Tracer hears about every flasher process libreflash starts: its command
// line, each line of its output as it arrives, and how and when it ended.
// libreflash --log-level debug sets one (Trace); it is for people, so the
// lines are cleaned: no control characters or escape sequences, valid
// UTF-8, at most traceLineMax bytes.
type Tracer interface {
	Start(argv []string)
	Line(argv []string, stream, text string)
	End(argv []string, exitCode int, took time.Duration)
}

// Trace, when not nil, is told about every flasher run (Run, the --help
// probe). Set it once, before any run.
var Trace Tracer

// traceLineMax bounds one traced line (a flasher can print megabytes
// without a newline).
const traceLineMax = 1024

// traceLines splits one output stream into cleaned lines for Trace.
// A carriage return ends a line too: progress updates show one by one.
type traceLines struct {
	t      Tracer
	argv   []string
	stream string

	mu   sync.Mutex
	buf  []byte
	long bool // the current line was cut at traceLineMax
}

func newTraceLines(t Tracer, argv []string, stream string) *traceLines {
	return &traceLines{t: t, argv: argv, stream: stream}
}

func (w *traceLines) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range p {
		if c == '\n' || c == '\r' {
			w.flush()
			continue
		}
		if len(w.buf) < traceLineMax {
			w.buf = append(w.buf, c)
		} else {
			w.long = true
		}
	}
	return len(p), nil
}

// Close sends a last line without a newline.
func (w *traceLines) Close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flush()
}

func (w *traceLines) flush() {
	text := traceClean(w.buf)
	if w.long {
		text += " […]"
	}
	w.buf, w.long = w.buf[:0], false
	if strings.TrimSpace(text) != "" {
		w.t.Line(w.argv, w.stream, text)
	}
}

// traceClean makes one output line safe to show (see Sanitize), tabs as
// spaces.
func traceClean(b []byte) string {
	return strings.ReplaceAll(Sanitize(string(b)), "\t", " ")
}
