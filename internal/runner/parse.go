package runner

import (
	"io"
	"strings"
	"sync"
)

// Parser turns a flasher's stdout and stderr into Events. It never blocks
// beyond its own mutex, never fails, and holds at most one capped partial line
// per stream.
type Parser struct {
	mu   sync.Mutex
	emit func(Event)
	line int
	bufs map[string]*strings.Builder
}

// NewParser returns a parser that calls emit for every event, in order.
func NewParser(emit func(Event)) *Parser {
	if emit == nil {
		emit = func(Event) {}
	}
	return &Parser{emit: emit, bufs: map[string]*strings.Builder{}}
}

// Stream returns the writer for one stream ("stdout" or "stderr"); it
// accepts any chunking and always reports success.
func (p *Parser) Stream(name string) io.Writer {
	return streamWriter{p: p, name: name}
}

type streamWriter struct {
	p    *Parser
	name string
}

func (w streamWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	buf := w.p.bufs[w.name]
	if buf == nil {
		buf = &strings.Builder{}
		w.p.bufs[w.name] = buf
	}
	for _, c := range b {
		if c == '\n' {
			w.p.line++
			w.p.emit(Event{Kind: EvLine, Stream: w.name, Line: w.p.line, Text: buf.String()})
			buf.Reset()
			continue
		}
		if buf.Len() < 4096 {
			buf.WriteByte(c)
		}
	}
	return len(b), nil
}

// Close flushes partial lines and emits EvExit.
func (p *Parser) Close(exitCode int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range []string{"stdout", "stderr"} {
		if buf := p.bufs[name]; buf != nil && buf.Len() > 0 {
			p.line++
			p.emit(Event{Kind: EvLine, Stream: name, Line: p.line, Text: buf.String()})
			buf.Reset()
		}
	}
	p.emit(Event{Kind: EvExit, Line: p.line, ExitCode: exitCode})
}
