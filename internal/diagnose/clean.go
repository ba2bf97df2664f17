package diagnose

import "bytes"

// Cleaning turns a log as people paste it into one stream of text the
// signatures can be matched against: terminal control (ANSI colours, \b
// erasures, \r redraws) is applied or dropped, progress bars are removed but
// the words printed after them ("100% done.") are kept, e-mail quoting is
// stripped, and whitespace — including line breaks — collapses to single
// spaces. Joining lines is what makes messages wrapped by mailing-list
// archives match again. Every step is a single forward pass.

// lineRef locates one input line in the cleaned stream.
type lineRef struct {
	start, end int // absolute offsets in the cleaned stream
	num        int // 1-based line number in the input
}

// cleaned is the cleaned stream, kept only as far back as the diagnosis
// still needs it: text[0] is the stream's byte base, and compact drops what
// lies before the last few lines. Memory is bounded by the window, not by
// the log.
type cleaned struct {
	text  []byte
	base  int       // absolute offset of text[0]
	lines []lineRef // only lines with visible text, in order
	// scratch buffers, reused for every line
	line, seg []byte
	// digits is the input line number of the last line that is a number
	// alone (--flash-size prints the size that way), 0 when none.
	digits int
}

// maxEvidence bounds the evidence text we keep per line.
const maxEvidence = 240

// feed cleans one input line (without its newline) and appends it.
func (c *cleaned) feed(raw []byte, num int) {
	cr, ctl := false, false
	for _, b := range raw {
		if control[b] {
			if b == '\r' {
				cr = true
			} else {
				ctl = true
				break
			}
		}
	}
	var view []byte // the line's visible text; may alias raw, never written
	switch {
	case !cr && !ctl: // plain text: the common case, no copy
		view = stripBar(raw)
	case !ctl: // \r redraws only: keep what follows each progress bar
		line := c.line[:0]
		for len(raw) > 0 {
			j := bytes.IndexByte(raw, '\r')
			if j < 0 {
				j = len(raw)
			}
			line = appendSegment(line, raw[:j])
			if j == len(raw) {
				break
			}
			raw = raw[j+1:]
		}
		view, c.line = line, line
	default: // terminal control: apply it byte by byte
		line, seg := c.line[:0], c.seg[:0]
		for i := 0; i < len(raw); i++ {
			b := raw[i]
			switch {
			case b == 0x1b: // ANSI escape: CSI ... final, OSC ... BEL/ST, or a 2-byte escape
				i = skipEscape(raw, i)
			case b == '\b':
				if len(seg) > 0 {
					seg = seg[:len(seg)-1]
				}
			case b == '\r':
				line = appendSegment(line, seg)
				seg = seg[:0]
			case b < 0x20 || b == 0x7f:
				seg = append(seg, ' ')
			default:
				seg = append(seg, b)
			}
		}
		view = appendSegment(line, seg)
		c.line, c.seg = view, seg
	}
	view = stripProgressTokens(view)
	view = stripQuote(view)
	c.addLine(view, num)
}

// control marks the bytes that need more than a copy: \r and terminal
// control (everything below space and DEL, but tab).
var control = func() (t [256]bool) {
	for b := 0; b < 0x20; b++ {
		t[b] = b != '\t'
	}
	t[0x7f] = true
	return t
}()

// end is the absolute offset just after the stream's last byte.
func (c *cleaned) end() int { return c.base + len(c.text) }

// from returns the stream from absolute offset off (clamped to the window).
func (c *cleaned) from(off int) []byte {
	if off < c.base {
		off = c.base
	}
	return c.text[off-c.base:]
}

// compact drops the stream before the last keep bytes (whole lines; the
// last few lines are always kept), once the window has grown to 16 times
// that, so that the copying costs little per byte. Matching carries its own state across the cut, so only lookups of
// old lines are lost, and the diagnosis records what it needs as it goes.
func (c *cleaned) compact(keep int) {
	if len(c.text) < 16*keep || len(c.lines) < 8 {
		return
	}
	cut := len(c.lines) - 4
	for cut > 0 && c.lines[cut-1].start >= c.end()-keep {
		cut--
	}
	if cut <= 0 {
		return
	}
	at := c.lines[cut].start
	n := copy(c.text, c.text[at-c.base:])
	c.text = c.text[:n]
	c.base = at
	m := copy(c.lines, c.lines[cut:])
	c.lines = c.lines[:m]
}

// skipEscape returns the index of the last byte of the escape sequence that
// starts at raw[i] (an ESC).
func skipEscape(raw []byte, i int) int {
	if i+1 >= len(raw) {
		return i
	}
	switch raw[i+1] {
	case '[':
		j := i + 2
		for j < len(raw) && !(raw[j] >= 0x40 && raw[j] <= 0x7e) {
			j++
		}
		if j >= len(raw) {
			return len(raw) - 1
		}
		return j
	case ']':
		j := i + 2
		for j < len(raw) {
			if raw[j] == 0x07 {
				return j
			}
			if raw[j] == 0x1b && j+1 < len(raw) && raw[j+1] == '\\' {
				return j + 1
			}
			j++
		}
		return len(raw) - 1
	}
	return i + 1
}

// appendSegment adds one \r-delimited segment to the line, without the
// flashprog progress bar it may start with.
func appendSegment(line, seg []byte) []byte {
	seg = stripBar(seg)
	if len(bytes.TrimSpace(seg)) == 0 {
		return line
	}
	if len(line) > 0 {
		line = append(line, ' ')
	}
	return append(line, seg...)
}

var barStages = [][]byte{[]byte("Reading... ["), []byte("Writing... ["), []byte("Erasing... ["), []byte("Progress... [")}

// stripBar removes flashprog's "Reading... [=====>    ]  42% " prefix, and
// the pieces of one that a mail archive wrapped onto two lines.
func stripBar(seg []byte) []byte {
	if len(seg) == 0 {
		return seg
	}
	if c := seg[0]; c == ' ' || c == '=' || c == '>' || c == ']' {
		if n := barTail(seg); n > 0 {
			return seg[n:]
		}
	}
	if c := seg[0]; c != 'R' && c != 'W' && c != 'E' && c != 'P' {
		return seg
	}
	for _, st := range barStages {
		if !bytes.HasPrefix(seg, st) {
			continue
		}
		rest := seg[len(st):]
		j := 0
		for j < len(rest) && j < 60 && (rest[j] == '=' || rest[j] == '>' || rest[j] == ' ') {
			j++
		}
		if j >= len(rest) {
			return nil // the head of a wrapped bar
		}
		if rest[j] != ']' {
			return seg
		}
		j++
		for j < len(rest) && rest[j] == ' ' {
			j++
		}
		d := j
		for j < len(rest) && j-d < 3 && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == d || j >= len(rest) || rest[j] != '%' {
			return rest[j:] // a bar cut off mid-way: drop what we recognised
		}
		return rest[j+1:]
	}
	return seg
}

var progressWords = [][]byte{[]byte("READ"), []byte("ERASE"), []byte("WRITE")}

// stripProgressTokens removes flashrom's progress tokens: 1.4's
// "[READ] 42% complete... " and 1.5+'s "[READ: 42%][ERASE: 100%]...".
func stripProgressTokens(line []byte) []byte {
	if bytes.IndexByte(line, '[') < 0 {
		return line
	}
	out := line[:0:0]
	for i := 0; i < len(line); {
		if line[i] == '[' {
			if n := progressToken(line[i:]); n > 0 {
				i += n
				continue
			}
		}
		out = append(out, line[i])
		i++
	}
	return out
}

// progressToken returns the length of a progress token at the start of s, or 0.
func progressToken(s []byte) int {
	for _, w := range progressWords {
		if len(s) < len(w)+2 || !bytes.Equal(s[1:1+len(w)], w) {
			continue
		}
		j := 1 + len(w)
		switch s[j] {
		case ']': // [READ] 42% complete...
			j++
			if j = percent(s, j); j == 0 {
				return 0
			}
			const tail = " complete..."
			if bytes.HasPrefix(s[j:], []byte(tail)) {
				j += len(tail)
			}
			if j < len(s) && s[j] == ' ' {
				j++
			}
			return j
		case ':': // [READ: 42%]...
			j++
			if j = percent(s, j); j == 0 || j >= len(s) || s[j] != ']' {
				return 0
			}
			j++
			if bytes.HasPrefix(s[j:], []byte("...")) {
				j += 3
			}
			return j
		}
	}
	return 0
}

// stripQuote removes e-mail quoting ("> ", "> > ", ">>").
func stripQuote(line []byte) []byte {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	if i >= len(line) || line[i] != '>' {
		return line
	}
	for i < len(line) && (line[i] == '>' || line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return line[i:]
}

// addLine appends a line to the stream with whitespace collapsed.
func (c *cleaned) addLine(line []byte, num int) {
	// Fast path: most lines have single spaces only; trim and copy.
	i, j := 0, len(line)
	for i < j && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	for j > i && (line[j-1] == ' ' || line[j-1] == '\t') {
		j--
	}
	if i == j {
		return
	}
	body := line[i:j]
	if c.end() > 0 {
		c.text = append(c.text, ' ')
	}
	start := c.end()
	if bytes.IndexByte(body, '\t') < 0 && !bytes.Contains(body, []byte("  ")) {
		c.text = append(c.text, body...)
	} else {
		space := false
		for _, b := range body {
			if b == ' ' || b == '\t' {
				space = true
				continue
			}
			if space {
				c.text = append(c.text, ' ')
			}
			space = false
			c.text = append(c.text, b)
		}
	}
	c.lines = append(c.lines, lineRef{start: start, end: c.end(), num: num})
	if t := c.text[start-c.base:]; len(t) <= 12 && isDigits(t) {
		c.digits = num
	}
}

func isDigits(t []byte) bool {
	for _, b := range t {
		if b < '0' || b > '9' {
			return false
		}
	}
	return len(t) > 0
}

// lineAt returns the index in c.lines of the line containing offset off.
func (c *cleaned) lineAt(off int) int {
	lo, hi := 0, len(c.lines)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if c.lines[m].end <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo >= len(c.lines) {
		return len(c.lines) - 1
	}
	return lo
}

// lineText is the cleaned text of line i, shortened for display.
func (c *cleaned) lineText(i int) string {
	l := c.lines[i]
	t := c.text[l.start-c.base : l.end-c.base]
	if len(t) > maxEvidence {
		return string(t[:maxEvidence]) + "…"
	}
	return string(t)
}

// barTail returns the length of the tail of a wrapped progress bar at the
// start of seg ("      ]  42% "), or 0.
func barTail(seg []byte) int {
	j := 0
	for j < len(seg) && j < 60 && (seg[j] == '=' || seg[j] == '>' || seg[j] == ' ') {
		j++
	}
	if j >= len(seg) || seg[j] != ']' {
		return 0
	}
	return percent(seg, j+1)
}

// percent reads " 42%" (spaces, one to three digits, a percent sign) at
// s[j:] and returns the index after the '%', or 0 when it is not there.
func percent(s []byte, j int) int {
	for j < len(s) && s[j] == ' ' {
		j++
	}
	d := j
	for j < len(s) && j-d < 3 && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == d || j >= len(s) || s[j] != '%' {
		return 0
	}
	return j + 1
}
