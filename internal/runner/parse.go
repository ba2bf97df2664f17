package runner

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// MaxLineBytes caps one output line. Longer lines are cut (Text ends in "…")
// and the rest of the line is dropped, so a runaway flasher cannot make the
// parser grow without bound.
const MaxLineBytes = 4096

// Parser turns a flasher's stdout and stderr, as they arrive, into Events —
// the flashprog/flashrom counterpart of cmd/internal/test2json.
//
// Write to the writers returned by Stream in whatever chunks the pipes
// deliver; call Close with the exit status when both pipes are drained.
// Writes never fail, never block on anything but the parser's own mutex, and
// never panic; memory is bounded by MaxLineBytes per stream.
//
// Line numbers: one counter over both streams, in the order bytes are
// written. Event.Line is the 1-based number of the line on which the event's
// text starts in a log that appends every write in arrival order and breaks
// lines at '\n' only — the log the runner keeps. So the stderr line
// "FAILED at 0x…" that follows stdout's unterminated "Verifying flash... "
// gets the same number as that stdout line, as it does in the log. '\r'
// (progress bars) does not start a new line number. Events without a line
// (EvExit, a stage ended by Close) have Line 0 and no Stream.
//
// Order: two pipes read by two goroutines may deliver stderr before stdout
// text the flasher printed first. The stage logic tolerates that, and
// classification goes by text, not stream; for the exact order give the
// flasher one pipe for both and feed it as one stream.
//
// Stages: EvStageStart/EvStageEnd pair up the flasher's operation lines —
// read ("Reading flash... ", "Reading old flash chip contents... "), write
// ("Erasing and writing flash chip... ", "Updating flash chip contents... "),
// erase ("Erasing flash chip... ") and verify ("Verifying flash... "). A stage
// ends with its completion word (done., VERIFIED., Erase/write done.,
// FAILED.), with a failure printed on stderr (FAILED!, FAILED at …, unknown
// state), when the next stage starts, or at Close (OK false: the flasher
// never said it finished). flashrom 1.3 reports "-E" as a write stage.
// StageProbe is reserved; an EvChip event is the probe's success.
//
// Phases and progress: Event.Phase is the kind of work under way — read,
// erase, erase_check (erased blocks read back), write (program) and verify
// (reading inside a verify stage) — so one write stage carries erase
// progress and then write progress, each with its own EvPhase. EvProgress
// has the Percent (0..100) of the phase's bar and its Pass: 1 for the
// first run of that bar in the stage, one more each time the flasher starts
// it again (a percentage lower than the last); within a pass, Percent only
// grows.
//
// Failures: flashrom ≥1.4 prints "Erase/write done from 0 to …" after a
// failed write too; that line is no verdict, the stage ends failed if a
// failure was reported in it (before or after, on either pipe) and ok only
// at the next stage or at Close with exit status 0. flashrom 1.4 prints no
// line before erasing and writing: that stage opens implicitly (Implicit)
// once the old contents are read (or at its first bar).
type Parser struct {
	mu      sync.Mutex
	emit    func(Event)
	nl      int // '\n' seen over all streams
	streams map[string]*stream
	order   []*stream
	closed  bool
	logErr  error

	bannerSeen  bool
	noWriteLine bool   // flashrom 1.4: no line announces erasing and writing
	op          Stage  // open stage, "" if none
	opText      string // its prefix text, to rebuild "Reading flash... done."; "" when implicit
	phase       Stage  // phase of the open stage
	sub         string // open sub-step prefix ("Reading current flash chip contents... ")
	failed      bool   // a failure was reported inside the open stage
	doneText    string // flashrom ≥1.4's "Erase/write done from …": not yet a verdict
	writeNext   bool   // the old contents are read (or assumed): a write follows
	operation   Stage  // what the run was asked to do (SetOperation), "" if unknown
	bars        [6]bar // per phase (stageIndex) of the open stage
}

// bar is the progress of one phase: which run of its bar, at what percent.
type bar struct{ pass, pct int }

// NewParser returns a parser that calls emit for every event, in order, with
// the parser's mutex held: emit must be quick and must not call the parser.
func NewParser(emit func(Event)) *Parser {
	if emit == nil {
		emit = func(Event) {}
	}
	return &Parser{emit: emit, streams: map[string]*stream{}}
}

// Stream returns the writer for one stream, usually "stdout" or "stderr"
// (a captured combined log can be fed as either). It accepts any chunking
// and always reports success. Events carry the name in Event.Stream.
func (p *Parser) Stream(name string) io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stream(name)
}

// Tee is Stream that also appends every chunk to log, under the parser's
// lock, before parsing it: a log shared by both streams then holds them in
// exactly the order the parser numbered their lines. A failing log never
// fails the write (a flasher's pipe must keep draining); LogErr reports it.
func (p *Parser) Tee(name string, log io.Writer) io.Writer {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stream(name)
	s.log = log
	return s
}

// LogErr returns the first error from a Tee log; later chunks were not logged.
func (p *Parser) LogErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logErr
}

func (p *Parser) stream(name string) *stream {
	s := p.streams[name]
	if s == nil {
		s = &stream{p: p, name: name, lineStart: true, buf: make([]byte, 0, 256)}
		p.streams[name] = s
		p.order = append(p.order, s)
	}
	return s
}

// Close flushes unterminated lines (streams in the order they were first
// used), ends a stage still open (OK false) and emits EvExit. Later writes
// are ignored; a second Close does nothing.
func (p *Parser) Close(exitCode int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	for _, s := range p.order {
		if !s.lineStart {
			s.endLine()
			s.lineStart = true
		}
	}
	if p.op != "" {
		// a stage without its completion word failed, unless it is a
		// flashrom ≥1.4 write that ended without a failure and exit 0
		p.endOp(nil, p.doneText != "" && !p.failed && exitCode == 0, "")
	}
	p.closed = true
	p.emit(Event{Kind: EvExit, ExitCode: exitCode})
}

// escape states for ANSI sequences, which are dropped
const (
	escNone = iota
	escStart
	escCSI
	escOSC
	escOSCEsc
)

type stream struct {
	p    *Parser
	name string
	log  io.Writer // see Tee

	lineStart bool // next byte starts a new line
	lineNo    int
	buf       []byte // current segment (after any consumed prefix or bar)
	head      []byte // consumed stage prefixes of this line
	truncated bool
	esc       int
}

// bar kinds
const (
	barRead = iota
	barErase
	barWrite
	barOther
)

func (s *stream) Write(b []byte) (int, error) {
	p := s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.log != nil && p.logErr == nil {
		if _, err := s.log.Write(b); err != nil {
			p.logErr = err
		}
	}
	if p.closed {
		return len(b), nil
	}
	for i := 0; i < len(b); i++ {
		if s.lineStart {
			s.lineStart = false
			s.lineNo = p.nl + 1
		}
		c := b[i]
		if s.esc != escNone && c != '\n' { // a broken sequence never swallows a line end
			s.escape(c)
			continue
		}
		s.esc = escNone
		if plain[c] {
			// fast path: a run of bytes that trigger nothing
			j := i + 1
			for j < len(b) && plain[b[j]] {
				j++
			}
			s.add(b[i:j])
			i = j - 1
			continue
		}
		switch c {
		case '\n':
			p.nl++
			s.endLine()
			s.lineStart = true
		case '\r':
			// A carriage return redraws the line: a bar is consumed as soon as
			// it is complete, so anything left is text worth keeping.
			if len(s.buf) > 0 {
				s.endLine()
			}
		case '\b':
			// flashrom ≥1.5 erases its bar with "\b \b": backspace deletes.
			if len(s.buf) > 0 {
				s.buf = s.buf[:len(s.buf)-1]
			}
		case 0x1b:
			s.esc = escStart
		case ' ':
			if !s.add(b[i : i+1]) {
				continue
			}
			if n := len(s.buf); n >= 3 && s.buf[n-2] == '%' {
				s.flashprogBar()
			} else if n >= 4 && s.buf[n-2] == '.' && s.buf[n-3] == '.' && s.buf[n-4] == '.' {
				if !s.flashrom14Progress() {
					s.prefix()
				}
			}
		case '.':
			if !s.add(b[i : i+1]) {
				continue
			}
			if n := len(s.buf); n >= 5 && s.buf[n-2] == '.' && s.buf[n-3] == '.' && s.buf[n-4] == ']' {
				s.flashrom15Progress()
			}
		case '\t':
			s.add(b[i : i+1])
		default:
			// other control bytes are dropped
		}
	}
	return len(b), nil
}

// plain marks the bytes that are only stored: not control bytes, not the
// ' ' and '.' that can complete a bar or a stage prefix.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != 0x7f && c != ' ' && c != '.'
	}
	return t
}()

// add appends to the line up to MaxLineBytes and says whether all of b fit.
func (s *stream) add(b []byte) bool {
	room := MaxLineBytes - len(s.buf) - len(s.head)
	if len(b) > room {
		s.truncated = true
		s.buf = append(s.buf, b[:max(room, 0)]...)
		return false
	}
	s.buf = append(s.buf, b...)
	return true
}

// escape skips one byte of an ANSI escape sequence (CSI, OSC or two-byte).
func (s *stream) escape(c byte) {
	switch s.esc {
	case escStart:
		switch c {
		case '[':
			s.esc = escCSI
		case ']':
			s.esc = escOSC
		default:
			if c < 0x20 || c > 0x2f { // intermediate bytes ("ESC ( B") come before the final one
				s.esc = escNone
			}
		}
	case escCSI:
		if c >= 0x40 && c <= 0x7e {
			s.esc = escNone
		}
	case escOSC:
		if c == 0x07 {
			s.esc = escNone
		} else if c == 0x1b {
			s.esc = escOSCEsc
		}
	case escOSCEsc:
		s.esc = escNone
	}
}

// flashprogBar consumes a complete flashprog --progress update
// ("Reading... [=====>     ]  42% ") at the start of the segment.
func (s *stream) flashprogBar() {
	b := s.buf
	kind := -1
	for i, w := range [...]string{"Reading... [", "Erasing... [", "Writing... [", "Progress... ["} {
		if hasPrefix(b, w) {
			kind, b = i, b[len(w):]
			break
		}
	}
	if kind < 0 || len(b) < 50+2+1+2 {
		return
	}
	for _, c := range b[:50] {
		if c != '=' && c != '>' && c != ' ' {
			return
		}
	}
	b = b[50:]
	if b[0] != ']' || b[1] != ' ' {
		return
	}
	pct, ok := percent(trimLeftSpace(b[2 : len(b)-2]))
	if !ok {
		return
	}
	s.buf = s.buf[:0]
	s.progress(kind, pct)
}

// flashrom14Progress consumes "[READ] 42% complete... " (flashrom 1.4).
func (s *stream) flashrom14Progress() bool {
	b := s.buf
	if len(b) < 2 || b[0] != '[' || !hasSuffix(b, "% complete... ") {
		return false
	}
	end := indexByte(b, ']')
	if end < 0 || end+1 >= len(b) || b[end+1] != ' ' {
		return false
	}
	kind := flashromKind(b[1:end])
	if kind < 0 {
		return false
	}
	pct, ok := percent(b[end+2 : len(b)-len("% complete... ")])
	if !ok {
		return false
	}
	s.buf = s.buf[:0]
	s.progress(kind, pct)
	return true
}

// flashrom15Progress consumes "[READ: 100%][ERASE:  7%]..." (flashrom ≥1.5).
// Every tag that advanced is reported, in the printed order.
func (s *stream) flashrom15Progress() {
	b := s.buf[:len(s.buf)-3]
	type tag struct{ kind, pct int }
	var tags [8]tag
	n := 0
	for len(b) > 0 {
		if b[0] != '[' || n == len(tags) {
			return
		}
		end := indexByte(b, ']')
		if end < 0 {
			return
		}
		colon := indexByte(b[:end], ':')
		if colon < 0 || end < colon+2 || b[end-1] != '%' {
			return
		}
		kind := flashromKind(b[1:colon])
		pct, ok := percent(trimLeftSpace(b[colon+1 : end-1]))
		if kind < 0 || !ok {
			return
		}
		tags[n] = tag{kind, pct}
		n++
		b = b[end+1:]
	}
	if n == 0 {
		return
	}
	s.buf = s.buf[:0]
	for _, t := range tags[:n] {
		s.progress(t.kind, t.pct)
	}
}

func flashromKind(b []byte) int {
	switch string(b) {
	case "READ":
		return barRead
	case "ERASE":
		return barErase
	case "WRITE":
		return barWrite
	}
	return -1
}

// percent parses 1–3 decimal digits, capped at 100.
func percent(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 3 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return min(n, 100), true
}

func (s *stream) progress(kind, pct int) {
	p := s.p
	if p.op == "" && (kind == barErase || kind == barWrite || p.writeNext || p.operation == StageErase) {
		// flashrom ≥1.4 erases (and writes) without a line saying so
		p.startOp(s, p.unannounced(), "")
	}
	var ph Stage
	switch kind {
	case barRead:
		switch {
		case p.op == StageVerify:
			ph = StageVerify
		case (p.op == StageWrite || p.op == StageErase) && p.sub == "":
			// reading erased blocks back (flashrom ≥1.4)
			ph = StageEraseCheck
		default:
			ph = StageRead
		}
	case barErase:
		ph = StageErase
	case barWrite:
		ph = StageWrite
	default:
		if ph = p.phase; ph == "" {
			return
		}
	}
	b := &p.bars[stageIndex(ph)]
	switch {
	case b.pass == 0 || pct < b.pct:
		// a bar starts, or starts again (flashrom 1.4 restarts its
		// percentage for each block it checks or writes)
		b.pass++
	case pct == b.pct:
		return // redrawn, not advanced
	}
	b.pct = pct
	if p.op != "" {
		p.setPhase(s, ph, false)
	}
	p.emit(Event{Kind: EvProgress, Stream: s.name, Line: s.lineNo, Stage: p.op, Phase: ph, Percent: pct, Pass: b.pass})
}

func stageIndex(st Stage) int {
	switch st {
	case StageRead:
		return 0
	case StageErase:
		return 1
	case StageWrite:
		return 2
	case StageVerify:
		return 3
	case StageEraseCheck:
		return 4
	}
	return 5
}

var opPrefixes = [...]struct {
	text  string
	stage Stage
}{
	{"Reading flash... ", StageRead},
	{"Reading old flash chip contents... ", StageRead},
	{"Erasing and writing flash chip... ", StageWrite},
	{"Updating flash chip contents... ", StageWrite},
	{"Erasing flash chip... ", StageErase},
	{"Verifying flash... ", StageVerify},
}

const (
	subPrefix     = "Reading current flash chip contents... "
	oldReadPrefix = "Reading old flash chip contents... "
)

// prefix consumes a stage prefix when the segment is exactly one, so that
// the stage starts as soon as it is printed, not when its result arrives.
func (s *stream) prefix() {
	p := s.p
	if string(s.buf) == subPrefix {
		if p.op != "" && p.doneText == "" {
			// a sub-step of the open stage: flashprog and flashrom 1.3
			// re-read the chip before trying another erase function
			p.sub = subPrefix
			s.head = append(s.head, s.buf...)
			s.buf = s.buf[:0]
			p.setPhase(s, StageRead, true)
			return
		}
		if len(s.head) > 0 {
			return
		}
		// flashrom ≥1.4 checks what a failed write changed: a read of its
		// own (its "Uh oh" may arrive later on the other pipe)
		if p.op != "" {
			p.failed = true
		}
		s.head = append(s.head, s.buf...)
		s.buf = s.buf[:0]
		p.startOp(s, StageRead, subPrefix)
		return
	}
	if len(s.head) > 0 {
		return
	}
	for _, o := range opPrefixes {
		if string(s.buf) != o.text {
			continue
		}
		text := string(s.buf)
		s.head = append(s.head, s.buf...)
		s.buf = s.buf[:0]
		if p.op == o.stage && p.opText == "" {
			// the line for a stage opened without one
			p.opText = text
			return
		}
		p.startOp(s, o.stage, text)
		return
	}
}

// startOp ends the open stage, if any, and opens st; text is the flasher's
// stage line, "" for a stage it did not announce.
func (p *Parser) startOp(s *stream, st Stage, text string) {
	if p.op != "" {
		p.endOp(s, p.doneText != "" && !p.failed, "")
	}
	p.op, p.opText, p.sub, p.failed, p.doneText, p.writeNext = st, text, "", false, "", false
	p.bars = [6]bar{}
	p.phase = st
	p.emit(Event{Kind: EvStageStart, Stream: s.name, Line: s.lineNo, Stage: st, Phase: st,
		Text: strings.TrimSpace(text), Implicit: text == "", FullRead: text != "" && (st == StageRead || st == StageVerify)})
}

// setPhase makes ph the phase of the open stage.
func (p *Parser) setPhase(s *stream, ph Stage, fullRead bool) {
	if ph == p.phase && !fullRead {
		return
	}
	p.phase = ph
	p.emit(Event{Kind: EvPhase, Stream: s.name, Line: s.lineNo, Stage: p.op, Phase: ph, FullRead: fullRead})
}

// endLine classifies the line (or the text before a '\r') and starts afresh.
func (s *stream) endLine() {
	s.classify()
	s.buf = s.buf[:0]
	s.head = s.head[:0]
	s.truncated = false
}

// endOp ends the open stage. ok is what the completion word says; a stage
// that only got flashrom ≥1.4's "Erase/write done from …" carries that line.
func (p *Parser) endOp(s *stream, ok bool, text string) {
	if text == "" && p.doneText != "" {
		text = p.doneText
	}
	ev := Event{Kind: EvStageEnd, Stage: p.op, OK: ok, Text: text}
	if s != nil {
		ev.Stream, ev.Line = s.name, s.lineNo
	}
	// p.sub stays: its result may still come on the other stream
	p.op, p.opText, p.phase, p.failed, p.doneText = "", "", "", false, ""
	p.emit(ev)
}

var (
	eventBannerRE = regexp.MustCompile(`^(flashprog|flashrom) (\S+) on `)
	eventChipRE   = regexp.MustCompile(`^(?:Found|Using|Assuming) (.+?) flash chip "(.+)" \((\d+) kB, ([^)]*)\) (?:on \S+|mapped at physical address 0x[0-9a-fA-F]+)\.$`)
	// "FREG2: Management Engine region (0x00001000-0x003fffff) is locked."
	// (ichspi.c), also after "Enabling flash write... " on the same line
	fregRE = regexp.MustCompile(`FREG\d+: (.+?) region \(0x[0-9a-fA-F]+-0x[0-9a-fA-F]+\) is (locked|read-only)\.`)
	// flashrom 1.4 prints no stage line before erasing and writing
	flashrom14RE = regexp.MustCompile(`^v?1\.4(\.|$|-)`)
)

// results are the completion words that end a stage, with the stages they
// can end ("" = any).
var results = [...]struct {
	text   string
	ok     bool
	stages string
}{
	// "Erase/write done." (flashprog, flashrom ≤1.3: printed on success
	// only) and flashrom ≥1.4's "Erase/write done from 0 to …", printed
	// after a failed write too; flashrom 1.3 reports -E as erasing and
	// writing
	{"Erase/write done", true, "write erase"},
	{"Erase done.", true, "erase write"},
	{"VERIFIED.", true, "verify"},
	{"done.", true, "read"},
	{"FAILED.", false, ""},
	{"FAILED!", false, ""}, // erase/write failure, on stderr
}

// doneFrom is flashrom ≥1.4's "Erase/write done from 0 to ffffff": it says
// the erase/write loop ended, not that it succeeded.
const doneFrom = "Erase/write done from "

func (s *stream) classify() {
	p := s.p
	rest := strings.TrimRight(cleanText(s.buf), " ")
	if rest == "" {
		return // stage prefix alone, bars only, or an empty line
	}
	text := cleanText(s.head) + rest
	if s.truncated {
		text += "…"
	}
	ev := Event{Stream: s.name, Line: s.lineNo, Text: text}

	for _, r := range results {
		if !strings.HasPrefix(rest, r.text) {
			continue
		}
		stageText := func() string {
			if len(s.head) == 0 {
				return p.opText + rest
			}
			return text
		}
		switch {
		case p.sub != "" && (r.text == "done." || r.text == "FAILED."):
			// "Reading current flash chip contents... done." inside a write
			if len(s.head) == 0 {
				ev.Text = p.sub + rest
			}
			p.sub = ""
			ev.Kind = EvLine
			if !r.ok {
				ev.Kind = EvError
			}
			if p.op != "" {
				p.setPhase(s, p.op, false)
			}
			p.emit(ev)
			return
		case strings.HasPrefix(rest, doneFrom):
			// The verdict comes later: "Uh oh. Erase/write failed" or a
			// failure seen before it, the next stage, or the exit status.
			if p.op != StageWrite && p.op != StageErase {
				p.startOp(s, p.unannounced(), "")
			}
			p.doneText = stageText()
			return
		case p.op != "" && (r.stages == "" || strings.Contains(r.stages, string(p.op))):
			// the whole line as a terminal shows it, even when a bar or
			// the other stream came in between
			oldRead := p.op == StageRead && p.opText == oldReadPrefix && r.ok
			p.endOp(s, r.ok, stageText())
			if !r.ok {
				ev.Kind = EvError
				p.emit(ev)
			}
			if oldRead {
				p.expectWrite(s)
			}
			return
		}
		break
	}

	if len(s.head) == 0 && !p.bannerSeen {
		if m := bannerMatch(text); m != nil {
			p.bannerSeen = true
			p.noWriteLine = m[1] == "flashrom" && flashrom14RE.MatchString(m[2])
			ev.Kind, ev.FlasherKind, ev.Version = EvBanner, m[1], m[2]
			p.emit(ev)
			return
		}
	}
	if len(s.head) == 0 && strings.Contains(text, ` flash chip "`) {
		if m := eventChipRE.FindStringSubmatch(text); m != nil {
			ev.Kind = EvChip
			ev.Chip = &Chip{Vendor: m[1], Name: m[2], Bus: m[4]}
			if kb, err := strconv.ParseInt(m[3], 10, 64); err == nil && kb <= 1<<40 {
				ev.Chip.SizeBytes = kb * 1024
			}
			p.emit(ev)
			return
		}
	}

	switch {
	case strings.Contains(text, "Your flash chip is in an unknown state"):
		if p.op != "" {
			p.endOp(s, false, "")
		}
		ev.Kind = EvUnknownState
	case strings.Contains(text, "apparently didn't do anything"):
		if p.op != "" {
			p.endOp(s, false, "")
		}
		ev.Kind = EvUnchanged
	case strings.Contains(text, "Chip content is identical to the requested image"):
		ev.Kind = EvIdentical
	case strings.Contains(text, "has status UNTESTED"):
		ev.Kind = EvUntested
	case strings.Contains(text, "FREG"):
		if m := fregRE.FindStringSubmatch(text); m != nil {
			ev.Kind, ev.Region, ev.Access = EvRegionLocked, m[1], m[2]
			break
		}
		ev.Kind = lineKind(text)
	case strings.HasPrefix(text, "Assuming old flash chip contents"):
		// flashrom ≥1.4 --flash-contents: the write follows
		ev.Kind = EvLine
		p.emit(ev)
		p.expectWrite(s)
		return
	default:
		ev.Kind = lineKind(text)
		if ev.Kind != EvError {
			break
		}
		if p.op == StageWrite || p.op == StageErase || p.writeNext {
			if writeFailure(text) {
				if p.op == "" {
					p.startOp(s, p.unannounced(), "")
				}
				p.failed = true
			}
		}
		if p.op != "" && endsStage(text, p.op) {
			p.endOp(s, false, stageTextOf(s, p, text))
		}
	}
	p.emit(ev)
}

func stageTextOf(s *stream, p *Parser, text string) string {
	if len(s.head) == 0 {
		return p.opText + text
	}
	return text
}

// unannounced is the stage of erasing and writing that the flasher
// printed no line for: an erase when the run is one (-E), else a write.
func (p *Parser) unannounced() Stage {
	if p.operation == StageErase {
		return StageErase
	}
	return StageWrite
}

// SetOperation tells the parser what the run was asked to do (see
// OperationOf); flashrom ≥1.4 erases without a line that says so, and
// Run calls it from the flasher's arguments. Call it before any output.
func (p *Parser) SetOperation(op Stage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.operation = op
}

// OperationOf is the operation a flasher command line asks for: read (-r),
// write (-w), verify (-v), erase (-E), or "" (a probe, --flash-name, …).
func OperationOf(args []string) Stage {
	for _, a := range args {
		switch a {
		case "-r", "--read":
			return StageRead
		case "-w", "--write":
			return StageWrite
		case "-v", "--verify":
			return StageVerify
		case "-E", "--erase":
			return StageErase
		}
	}
	return ""
}

// expectWrite notes that the old contents are in: a write follows, which
// flashrom 1.4 does not announce, so its stage opens now.
func (p *Parser) expectWrite(s *stream) {
	p.writeNext = true
	if p.noWriteLine && p.op == "" {
		p.startOp(s, StageWrite, "")
	}
}

// writeFailure says whether an error line inside a write means the write
// failed, even if flashrom ≥1.4 then prints "Erase/write done from …".
func writeFailure(text string) bool {
	for _, m := range [...]string{"Write failed", "Write Failed", "ERASE FAILED", "Failed to erase", "failed to write", "Erase/write failed"} {
		if strings.Contains(text, m) {
			return true
		}
	}
	return false
}

// endsStage says whether an error line printed on stderr is the failure of
// the open stage, whose stdout line never gets a completion word.
func endsStage(text string, op Stage) bool {
	switch {
	case strings.HasPrefix(text, "FAILED at "):
		// also printed per block by the erase check inside a write
		return op == StageVerify
	case strings.HasPrefix(text, "Uh oh. Erase/write failed"),
		strings.HasPrefix(text, "Write Failed!"):
		return op == StageWrite || op == StageErase
	case strings.HasPrefix(text, "Verification impossible"):
		return op == StageVerify
	case strings.HasPrefix(text, "Can't even read anymore!"):
		return true
	}
	return false
}

var warningMarks = [...]string{
	"Warning", "WARNING", ": Warning:",
	"Failed getting access to coreboot", "Unable to access DMI Table",
	"Block protection could not be disabled!",
	"possibly due to another failure",
	"This chipset is marked as untested",
	"This flash part has status",
}

var errorMarks = [...]string{
	"Error", "ERROR", "FATAL", "Critical error",
	"FAILED", "failed", "Failed", "Aborting.",
	"Could not", "Couldn't", "Can't", "Unable to",
	"Transaction error", "No EEPROM/flash device found",
	"Unhandled programmer parameters", "Invalid ",
	"Apparently at least some data has changed",
	"has no erase function", "has no write function", "has no read function",
	"is not working", "not supported", "is not possible",
	"Please select a programmer", "Region requested",
	"Multiple flash chip definitions match",
	"write protected!", "doesn't match", "Uh oh.",
	"No usable erase functions left", "has not started",
}

// lineKind sorts the remaining lines. flashprog sends errors and warnings to
// stderr, but captured logs mix the streams, so the text decides.
func lineKind(text string) EventKind {
	switch {
	case warningIndex.in(text):
		return EvWarning
	case errorIndex.in(text):
		return EvError
	}
	// driver messages: "ich_spi_send_command: Internal command size error …"
	if i := strings.Index(text, ": "); i > 0 && isIdent(text[:i]) && strings.Contains(text[i:], "error") {
		return EvError
	}
	return EvLine
}

// markIndex finds any of a set of marks in one pass over a line, trying
// only the marks that start with the byte at hand: many short lines (such
// as hundreds of "Transaction error!") must stay cheap.
type markIndex [256][]string

func newMarkIndex(marks []string) *markIndex {
	var m markIndex
	for _, s := range marks {
		m[s[0]] = append(m[s[0]], s)
	}
	return &m
}

func (m *markIndex) in(text string) bool {
	for i := 0; i < len(text); i++ {
		for _, s := range m[text[i]] {
			if strings.HasPrefix(text[i:], s) {
				return true
			}
		}
	}
	return false
}

var (
	warningIndex = newMarkIndex(warningMarks[:])
	errorIndex   = newMarkIndex(errorMarks[:])
)

func isIdent(s string) bool {
	for _, c := range s {
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// cleanText makes a line's bytes (ASCII control bytes and escape sequences
// already dropped) safe to show: see Sanitize.
func cleanText(b []byte) string {
	for _, c := range b {
		if c >= 0x80 {
			return Sanitize(string(b))
		}
	}
	return string(b)
}

func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }
func hasSuffix(b []byte, s string) bool { return len(b) >= len(s) && string(b[len(b)-len(s):]) == s }

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func trimLeftSpace(b []byte) []byte {
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	return b
}

// bannerMatch is eventBannerRE behind a cheap test: until a banner is seen
// every line is a candidate.
func bannerMatch(text string) []string {
	if !strings.HasPrefix(text, "flash") {
		return nil
	}
	return eventBannerRE.FindStringSubmatch(text)
}
