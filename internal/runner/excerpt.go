package runner

import (
	"fmt"
	"strings"
	"sync"
)

// Excerpt keeps the start and the end of a stream of flasher output in
// bounded memory: the first head bytes and the last tail bytes, with a
// note of how much was left out between them. It is for what needs the
// output in memory (error messages, diagnosis); the full output goes to
// the run's log file. Writes never fail; it is safe for concurrent use.
type Excerpt struct {
	mu      sync.Mutex
	head    []byte
	tail    []byte
	maxHead int
	maxTail int
	dropped int64
}

// NewExcerpt keeps at most head bytes from the start and tail bytes from
// the end.
func NewExcerpt(head, tail int) *Excerpt {
	return &Excerpt{maxHead: max(head, 0), maxTail: max(tail, 0)}
}

func (e *Excerpt) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(p)
	if room := e.maxHead - len(e.head); room > 0 {
		k := min(room, len(p))
		e.head = append(e.head, p[:k]...)
		p = p[k:]
	}
	if len(p) >= e.maxTail {
		e.dropped += int64(len(e.tail) + len(p) - e.maxTail)
		e.tail = append(e.tail[:0], p[len(p)-e.maxTail:]...)
		return n, nil
	}
	if over := len(e.tail) + len(p) - e.maxTail; over > 0 {
		// keep the buffer's size: shift out what falls off the front
		e.dropped += int64(over)
		copy(e.tail, e.tail[over:])
		e.tail = e.tail[:len(e.tail)-over]
	}
	e.tail = append(e.tail, p...)
	return n, nil
}

// Bytes returns the kept start and end; where bytes were left out between
// them, a line saying how many stands in their place.
func (e *Excerpt) Bytes() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]byte, 0, len(e.head)+len(e.tail)+64)
	out = append(out, e.head...)
	if e.dropped > 0 {
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = fmt.Appendf(out, "[libreflash: %d bytes of flasher output left out here; the run's log has them]\n", e.dropped)
	}
	return append(out, e.tail...)
}

// String is Bytes as valid UTF-8.
func (e *Excerpt) String() string {
	return strings.ToValidUTF8(string(e.Bytes()), "\uFFFD")
}

// Dropped is how many bytes were left out.
func (e *Excerpt) Dropped() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dropped
}
