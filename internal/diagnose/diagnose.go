package diagnose

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Outcomes of a flasher run, as read from its log.
const (
	Success      = "success"       // the operation finished (read done, VERIFIED., …)
	Failed       = "failed"        // it failed before or without changing the chip
	Unchanged    = "unchanged"     // a write failed and the flasher confirmed the chip is unchanged
	UnknownState = "unknown_state" // a write failed and the chip may be half written
	Incomplete   = "incomplete"    // the log ends before the operation finished
	RolledBack   = "rolled_back"   // a write failed, then the backup was written back and verified
)

// Finding is one diagnosed cause, with the log line that shows it.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Line     int    `json:"line"` // 1-based line in the log; 0 when not from one line
	Evidence string `json:"evidence"`
	Summary  string `json:"summary"`
	Fix      string `json:"fix"`
	Docs     string `json:"docs"`
	// Count is how often the evidence occurred, when more than once.
	Count int `json:"count,omitempty"`
	// Basis says what decided between causes that print the same message:
	// machine facts or other lines of the log.
	Basis string `json:"basis,omitempty"`
	// Candidate marks another possible cause of the primary finding's
	// evidence, listed when nothing decided between them.
	Candidate bool `json:"candidate,omitempty"`
	// Check says how to tell the candidates apart.
	Check string `json:"check,omitempty"`
}

// Result is the diagnosis of one log.
type Result struct {
	// Outcome is the chip's state after the last run that touched it
	// (wrote, erased, or verified it after a failed write); for a log
	// whose runs only probed or read, the last run's outcome.
	Outcome string `json:"outcome"`
	// Findings are those of the run that decided Outcome, primary cause
	// first, then the other runs' findings as info.
	Findings []Finding `json:"findings"`
	// Runs are the flasher runs in the log, in order (see Run).
	Runs []Run `json:"runs"`
	// RunsOmitted counts runs left out of Runs in a very long log: the
	// first and the deciding runs are kept, and the last ones.
	RunsOmitted int `json:"runs_omitted,omitempty"`
	// FactsUsed lists the machine facts that decided a cause ("euid=0", …).
	FactsUsed []string `json:"facts_used,omitempty"`
}

// Run is one flasher run in a log: from a command line (a shell prompt,
// libreflash's "# libreflash:" line) or the flasher's banner to the next.
type Run struct {
	Line    int    `json:"line"`              // its first line in the log
	Flasher string `json:"flasher,omitempty"` // "flashprog" or "flashrom", from the banner or command line
	Version string `json:"version,omitempty"` // as the banner prints it: "v1.4.0", "p1.5-91-g79d5c66", "unknown"
	// Operation is probe (no operation, --flash-name, --flash-size), read,
	// write, erase, verify, or unknown.
	Operation string `json:"operation"`
	// Label is libreflash's name for the run ("read 1 of 2", "write",
	// "rollback") when its log says so.
	Label    string    `json:"label,omitempty"`
	Outcome  string    `json:"outcome"`
	Findings []Finding `json:"findings"`
}

// Operations of a run.
const (
	OpProbe   = "probe"
	OpRead    = "read"
	OpWrite   = "write"
	OpErase   = "erase"
	OpVerify  = "verify"
	OpUnknown = "unknown"
)

// FlasherOutput reports whether the log holds anything a flasher prints:
// a banner, a command line, a stage or a known message. Text that is not
// flasher output has no runs.
func (r Result) FlasherOutput() bool { return len(r.Runs) > 0 }

// Primary returns the primary cause: the first finding, when the run failed.
func (r Result) Primary() (Finding, bool) {
	if len(r.Findings) == 0 || r.Findings[0].Severity != Fatal {
		return Finding{}, false
	}
	return r.Findings[0], true
}

// StoppedBeforeChip reports whether the primary cause is one the flashers
// print before they erase or write anything (Cause.StopsBeforeChip).
func (r Result) StoppedBeforeChip() bool {
	p, ok := r.Primary()
	return ok && StopsBeforeChip(p.ID)
}

// NeedsFacts reports whether a fatal finding rests on a message that
// machine facts could settle (Cause.NeedsFacts): worth diagnosing again
// with this machine's Facts.
func (r Result) NeedsFacts() bool {
	for _, f := range r.Findings {
		if f.Severity == Fatal && NeedsFacts(f.ID) {
			return true
		}
	}
	return false
}

// For returns the findings with each fix for outcome instead: what the
// caller learnt after the log ended (libreflash's install reads the chip
// back, or rolls it back) decides which branch of the catalog's fix
// applies. Info findings from other runs keep theirs.
func (r Result) For(outcome string, f Facts) []Finding {
	out := make([]Finding, len(r.Findings))
	for i, fd := range r.Findings {
		if fd.Severity != Info {
			fd.Fix = Fix(fd.ID, outcome, f)
		}
		out[i] = fd
	}
	return out
}

// OK reports whether the log shows a successful run.
func (r Result) OK() bool { return r.Outcome == Success }

var (
	matchOnce sync.Once
	theMatch  *matcher
)

func getMatcher() *matcher {
	matchOnce.Do(func() {
		pats := make([]string, len(signatures))
		for i, s := range signatures {
			pats[i] = strings.Join(strings.Fields(s.text), " ")
			if s.text[0] == ' ' {
				pats[i] = " " + pats[i]
			}
			if s.text[len(s.text)-1] == ' ' {
				pats[i] += " "
			}
		}
		theMatch = newMatcher(pats)
	})
	return theMatch
}

// consequences are causes that describe what failed rather than why; a
// warning printed earlier in the same run may explain them.
var explains = map[string][]string{
	"bios_lock":           {"write_failed", "verify_failed", "unknown"},
	"region_locked":       {"write_failed", "verify_failed", "unknown"},
	"laptop_refused":      {"chip_not_found", "unknown"},
	"unsupported_chipset": {"chip_not_found", "unknown"},
	"board_mismatch":      {"unknown"},
	"kernel_lockdown":     {"chip_not_found", "unknown"},
	"devmem_restricted":   {"chip_not_found", "unknown"},
	"pat_conflict":        {"chip_not_found", "unknown"},
	"write_failed":        {"unknown"},
}

func isConsequence(id string) bool {
	return id == "write_failed" || id == "verify_failed" || id == "chip_not_found" || id == "unknown"
}

// Facts-independent fatal and harmless /dev/mem regions (catalog A8).
var (
	harmlessRegions = []string{"high tables", "low megabyte", "low tables", "dmi", "coreboot", "smbios"}
	fatalRegions    = []string{"rcrb", "rcba", "spi", "ibase", "sbase", "mmio", "registers", "bar"}
)

const (
	regionUnknown = iota
	regionHarmless
	regionFatal
)

func classifyRegion(descr string) int {
	d := strings.ToLower(descr)
	for _, h := range harmlessRegions {
		if strings.HasPrefix(d, h) {
			return regionHarmless
		}
	}
	for _, f := range fatalRegions {
		if strings.Contains(d, f) {
			return regionFatal
		}
	}
	return regionUnknown
}

const (
	cmdSudo      = 1
	cmdUser      = 2
	cmdRoot      = 3 // a root shell prompt ("# flashrom ...")
	cmdContainer = 4 // a container or toolbox prompt
)

// itemKey identifies repeats of one finding within a run.
type itemKey struct {
	id, sev, summary string
}

// item is a finding under construction.
type item struct {
	Finding
	order int     // position of the first hit, for stable ordering
	eperm bool    // "Operation not permitted": resolved with facts at the end of the run
	mmap  bool    // fatal /dev/mem mapping failure: devmem_restricted or kernel_lockdown
	first string  // first harmless region, for the summary
	key   itemKey // in state.byKey
}

// runRec is a finished run, with what the overall outcome needs.
type runRec struct {
	Run
	items   []*item // ordered, primary first when the run failed
	file    string  // the image written or compared (-w/-v FILE), when the command line names it
	primary bool    // items[0] is the run's primary cause
}

// Limits that keep memory bounded by the longest run, not the log.
const (
	keepText = 16 << 10 // cleaned text kept behind the matcher
	maxRuns  = 200      // runs kept in Result.Runs
)

type state struct {
	c       *cleaned
	m       *matcher
	ms      int32 // matcher state
	scanned int   // absolute offset scanned so far
	facts   Facts
	exit    int // flasher exit status for DiagnoseRun, -1 otherwise
	items   []*item
	byKey   map[itemKey]*item
	used    map[string]bool
	runs    []*runRec
	omitted int
	chip    chipState

	// current run
	run                             Run
	runFile, cmdOp                  string
	started                         bool // the run has a command line, a banner or a hit
	content                         bool // the run has more than its command line and banner
	sawBanner                       bool
	stages                          int    // bit per stage seen
	containerLine                   int    // line of the last container or toolbox prompt
	kernel                          string // Linux version the last banner names
	eraseCheck                      []*item
	earlyCheck                      []lineNote // "FAILED at … Expected=0xff" before the banner
	eraseFailHit                    int        // hit counter of the first "ERASE FAILED"
	stage                           int
	open, eraseOnly                 bool
	lastSuccess, lastFail           int // hit counters, 0 = never
	unchanged, unknownState         bool
	eraseTrouble                    bool // an erase failed (the flasher may recover)
	verified                        bool // "VERIFIED." seen
	failLine, failStage             int
	failText                        string
	details, detailLine             int
	probeLine, probeDetails         int // first probe line; transaction errors before it
	probeText                       string
	namePrinted                     bool
	os                              int
	cmd                             int // cmdSudo, cmdUser, ...: how the pasted command ran
	userHint, rootHint              bool
	bsdHint, lockdownLog, devmemLog bool
	access                          string // region of the last "Error accessing"
	accessLine                      int
	pending                         *pendingMap
	biosCtl                         *item
	hits                            int
	harmless                        map[string]*item
	outcome                         string
}

type pendingMap struct {
	cause, descr string
	line         int
	text         string
}

// Diagnose reads a flasher log and returns the outcome and the findings,
// primary cause first, and each run in it. Facts from this machine (the
// zero value when the log comes from elsewhere) decide between causes that
// print the same message. It never fails: anything it cannot read is
// skipped. Time is linear in len(log).
func Diagnose(log []byte, f Facts) Result {
	r, _ := diagnoseReader(bytes.NewReader(log), f, -1)
	return r
}

// DiagnoseReader is Diagnose for a log read from r as it comes: memory is
// bounded by the longest run (in practice by a few hundred KiB), not by the
// log. The error is r's.
func DiagnoseReader(r io.Reader, f Facts) (Result, error) { return diagnoseReader(r, f, -1) }

// DiagnoseRun is Diagnose for a flasher run libreflash made itself: the
// captured log (stdout and stderr as they arrived), the flasher's exit status
// and this machine's facts. The exit status is the final word on success
// (0) or failure (anything else) of the last run where the log alone is not
// conclusive — --flash-size output, a flasher killed mid-operation.
func DiagnoseRun(log []byte, exitCode int, f Facts) Result {
	r, _ := diagnoseReader(bytes.NewReader(log), f, exitCode)
	return r
}

// maxLine bounds one input line: longer ones (progress redrawn with \r for
// minutes, binary junk) are taken in pieces.
const maxLine = 256 << 10

func diagnoseReader(rd io.Reader, f Facts, exit int) (Result, error) {
	st := &state{c: &cleaned{}, m: getMatcher(), facts: f, exit: exit, byKey: map[itemKey]*item{}, used: map[string]bool{}}
	st.resetRun()
	br := bufio.NewReaderSize(rd, 64<<10)
	var long []byte // a line longer than the reader's buffer
	num := 0
	var err error
	for {
		chunk, rerr := br.ReadSlice('\n')
		switch {
		case rerr == bufio.ErrBufferFull:
			long = append(long, chunk...)
			if len(long) < maxLine {
				continue
			}
			// Feed the piece up to its last \r, so that a progress bar is
			// not cut in two; the rest starts the next piece.
			cut := bytes.LastIndexByte(long, '\r')
			if cut <= 0 {
				cut = len(long)
			}
			st.line(long[:cut], num+1)
			long = append(long[:0], long[cut:]...)
			continue
		case len(long) > 0:
			chunk = append(long, chunk...)
			long = long[:0]
		}
		if len(chunk) > 0 {
			num++
			st.line(bytes.TrimSuffix(chunk, []byte{'\n'}), num)
		}
		if rerr != nil {
			if rerr != io.EOF {
				err = rerr
			}
			break
		}
	}
	st.finishRun(true)
	return st.result(), err
}

// line cleans one input line, matches what it completes and lets the
// window behind the matcher go.
func (st *state) line(raw []byte, num int) {
	st.c.feed(raw, num)
	text := st.c.from(st.scanned)
	base := st.scanned
	st.scanned = st.c.end()
	// The matcher's loop, inlined: one table lookup per byte.
	m := st.m
	s, next, class, n, hasOut := st.ms, m.next, &m.class, int32(m.nclass), m.hasOut
	for i, b := range text {
		s = next[s*n+int32(class[b])]
		if hasOut[s] {
			for _, pi := range m.out[s] {
				st.hits++
				end := base + i + 1
				st.hit(&signatures[pi], end-m.lens[pi], end)
			}
		}
	}
	st.ms = s
	st.c.compact(keepText)
}

func (st *state) resetRun() {
	st.items = nil
	st.byKey = map[itemKey]*item{}
	st.run = Run{}
	st.runFile, st.cmdOp = "", ""
	st.started, st.content, st.sawBanner, st.stages = false, false, false, 0
	st.eraseCheck, st.eraseFailHit, st.earlyCheck = nil, 0, nil
	st.stage, st.open, st.eraseOnly = stageNone, false, false
	st.lastSuccess, st.lastFail = 0, 0
	st.unchanged, st.unknownState = false, false
	st.eraseTrouble, st.verified = false, false
	st.failLine, st.failStage, st.failText, st.details, st.detailLine = 0, 0, "", 0, 0
	st.probeLine, st.probeDetails, st.probeText = 0, 0, ""
	st.namePrinted = false
	st.os = 0
	st.cmd = 0
	st.userHint, st.rootHint, st.bsdHint, st.lockdownLog, st.devmemLog = false, false, false, false, false
	st.access, st.accessLine = "", 0
	st.pending, st.biosCtl = nil, nil
	st.harmless = map[string]*item{}
	st.outcome = ""
}

// newRun ends the current run, when it has begun, at a command line or a
// banner that starts another one. The OS and command seen just before a
// banner belong to the new run.
func (st *state) newRun() {
	if !st.started {
		return
	}
	os, cmd := st.os, st.cmd
	st.finishRun(false)
	st.resetRun()
	st.os, st.cmd = os, cmd
}

// hit handles one signature occurrence at the stream's [start, end).
func (st *state) hit(s *sig, start, end int) {
	li := st.c.lineAt(start)
	line := st.c.lines[li].num
	switch s.kind {
	case kOS, kBanner, kSudo, kUserPrompt, kRootPrompt, kCommand, kContainer:
	default:
		if !st.started {
			st.started, st.run.Line = true, line
		}
		st.content = true
	}
	switch s.kind {
	case kBanner:
		st.banner(li)
		return
	case kOS:
		// Only the banner names the OS; flashrom 1.3 prints "On OpenBSD set
		// securelevel=-1 ..." on every system.
		if t := st.c.lineText(li); strings.HasPrefix(t, "flashrom ") || strings.HasPrefix(t, "flashprog ") {
			st.os = s.arg
			if _, k, ok := strings.Cut(t, " on Linux "); ok {
				st.kernel, _, _ = strings.Cut(k, " ")
			}
		}
		return
	case kContainer:
		st.containerLine = line
		return
	case kSudo, kUserPrompt, kRootPrompt, kCommand:
		st.command(s, li, start)
		return
	case kStage:
		st.stage, st.open = s.arg, true
		st.stages |= 1 << s.arg
		if s.arg == stageErase {
			st.stage, st.eraseOnly = stageWrite, true
		}
		return
	case kStageDone:
		st.open = true
		if s.arg == stageReadOld {
			// The old contents are in: erasing and writing come next,
			// whether or not the flasher says so (flashrom 1.4 does not).
			st.stages |= 1 << s.arg
			st.stage = stageWrite
		}
		return
	case kStageFail:
		// "FAILED." ends a stage; elsewhere the word is part of a warning
		// ("Setting BIOS Control ... failed.").
		if st.open {
			st.open = false
			st.fail(line, st.c.lineText(li))
		}
		return
	case kSuccess:
		if s.arg == argWriteDone && st.lastFail > st.lastSuccess && st.stage == stageWrite {
			// flashrom ≥1.4 prints "Erase/write done from 0 to …" even
			// after "Write failed": the failure stands.
			return
		}
		st.open = false
		st.lastSuccess = st.hits
		if s.arg == argVerified {
			st.verified = true
		}
		return
	case kFail:
		st.fail(line, st.c.lineText(li))
		st.resolvePending(regionFatal)
		return
	case kProbe:
		if st.probeLine == 0 {
			st.probeLine, st.probeText = line, st.c.lineText(li)
			st.probeDetails = st.details
		}
		return
	case kDetail:
		st.details++
		if st.detailLine == 0 {
			st.detailLine = line
		}
		return
	case kRootHint:
		st.rootHint = true
		return
	case kUserHint:
		st.userHint = true
	case kBSDHint:
		st.bsdHint = true
	case kLockdownLog:
		st.lockdownLog = true
	case kDevmemLog:
		st.devmemLog = true
	case kAccess:
		st.resolvePending(regionUnknown)
		st.access, st.accessLine = regionName(st.c.from(end)), line
		return
	case kMapHarmless:
		st.resolvePending(regionHarmless)
		return
	case kMmap:
		st.resolvePending(regionUnknown)
		descr := st.access
		if st.accessLine == 0 || line-st.accessLine > 2 {
			descr = ""
		}
		st.access, st.accessLine = "", 0
		pm := &pendingMap{cause: s.cause, descr: descr, line: line, text: st.c.lineText(li)}
		switch classifyRegion(descr) {
		case regionHarmless:
			st.mapping(pm, regionHarmless)
		case regionFatal:
			st.mapping(pm, regionFatal)
		default:
			st.pending = pm
		}
		return
	case kBIOSCtlNew:
		if st.biosCtl != nil {
			if v, ok := hexAt(st.c.from(end)); ok && v&1 == 1 {
				// Only the lock bit stuck; BIOS Write Enable is set.
				st.biosCtl.Severity = Info
				st.biosCtl.Summary = "BIOS Control could not be changed completely, but BIOS Write Enable is set: writes work"
			}
			st.biosCtl = nil
		}
		return
	case kVerify:
		if st.stage != stageVerify && !st.writing() && !st.sawBanner && erasedExpected(st.c.from(end)) {
			// Before the banner: stderr ahead of stdout. Whether it is
			// a write's erase check or a verify mismatch, the rest of the
			// run tells (finishRun).
			st.earlyCheck = append(st.earlyCheck, lineNote{line, st.c.lineText(li)})
			return
		}
		if (st.stage != stageVerify || st.verified) && st.writing() && erasedExpected(st.c.from(end)) {
			// (After VERIFIED., such a line is the erase check's stderr
			// arriving late: the verification came last.)
			// The erase check inside a write (flashrom ≥1.4 prints it,
			// often before its own "Erasing and writing" line): bytes that
			// did not read back as erased. A failure to erase, decided at
			// the end of the run: fatal if the write failed, harmless if
			// the flasher recovered.
			st.eraseChecked(line, st.c.lineText(li))
			return
		}
		if st.stage == stageWrite {
			// The erase check of older flashers, inside the write: the
			// write failure that follows is the finding.
			return
		}
	case kEraseTrouble:
		st.eraseTrouble = true
		if s.sev == Warning && st.eraseFailHit == 0 {
			st.eraseFailHit = st.hits
		}
	case kUnchanged:
		st.unchanged = true
	case kUnknownState:
		st.unknownState = true
	}
	if s.cause == "" {
		return
	}
	it := st.add(s.cause, s.sev, s.summary, line, st.c.lineText(li))
	if s.kind == kEPERM {
		it.eperm = true
	}
	if s.kind == kBIOSCtl {
		st.biosCtl = it
	}
	if s.kind == kEraseTrouble && s.sev == Warning {
		st.eraseCheck = append(st.eraseCheck, it)
	}
	if it.Severity == Fatal {
		st.fail(line, it.Evidence)
	}
}

// eraseChecked records a failed erase check at line.
func (st *state) eraseChecked(line int, text string) {
	it := st.add("write_failed", Warning, "the erase check found bytes that did not read back as erased (Expected=0xff): erasing failed", line, text)
	st.eraseCheck = append(st.eraseCheck, it)
	st.eraseTrouble = true
}

// lineNote is a line kept for a decision the rest of the run makes.
type lineNote struct {
	line int
	text string
}

// writing reports whether the current run writes or erases the chip, as
// far as its command line and stages tell.
func (st *state) writing() bool {
	return st.cmdOp == OpWrite || st.cmdOp == OpErase ||
		st.stages&(1<<stageWrite|1<<stageReadOld|1<<stageErase) != 0
}

// erasedExpected reports whether a "FAILED at 0x…" line goes on with
// "Expected=0xff": the erase check, which expects erased bytes.
func erasedExpected(rest []byte) bool {
	if len(rest) > 48 {
		rest = rest[:48]
	}
	i := bytes.Index(bytes.ToLower(rest), []byte("expected=0x"))
	return i >= 0 && i+13 <= len(rest) && bytes.EqualFold(rest[i+11:i+13], []byte("ff"))
}

// banner handles the flasher's second banner line: a new run starts when
// the current one has its banner already. What came before this banner
// since the last command line is this run's: a flasher's stderr often
// arrives ahead of its buffered stdout, banner included. The line before
// names the flasher and its version ("flashrom v1.4.0 on Linux …").
func (st *state) banner(li int) {
	if st.sawBanner {
		st.newRun()
	}
	name, _, _ := strings.Cut(st.c.lineText(li), " ")
	first := st.c.lines[li].num
	version := ""
	if li > 0 {
		if f := strings.Fields(st.c.lineText(li - 1)); len(f) >= 3 && f[0] == name && f[2] == "on" {
			version, first = f[1], st.c.lines[li-1].num
		}
	}
	if !st.started {
		st.started, st.run.Line = true, first
	}
	st.sawBanner = true
	if name == "flashrom" || name == "flashprog" {
		st.run.Flasher, st.run.Version = name, version
	}
}

// command handles a command line: a shell prompt running the flasher, or
// libreflash's "# libreflash: LABEL: ARGV" line before each flasher run.
func (st *state) command(s *sig, li, start int) {
	st.newRun()
	line := st.c.lines[li].num
	st.started, st.run.Line = true, line
	text := string(st.c.from(start))
	if end := st.c.lines[li].end - start; end >= 0 && end <= len(text) {
		text = text[:end]
	}
	switch s.kind {
	case kSudo:
		st.cmd = cmdSudo
		_, text, _ = strings.Cut(text, " ")
	case kUserPrompt:
		st.cmd = cmdUser
		text = strings.TrimPrefix(text, "$ ")
	case kRootPrompt:
		st.cmd = cmdRoot
		text = strings.TrimPrefix(text, "# ")
	case kCommand:
		st.cmd = 0
		label, argv, ok := strings.Cut(strings.TrimPrefix(text, "# libreflash: "), ": ")
		if ok {
			st.run.Label, text = label, argv
		}
	}
	if st.containerLine == line {
		st.cmd = cmdContainer
	}
	f := strings.Fields(text)
	if len(f) == 0 {
		return
	}
	if b := f[0][strings.LastIndexByte(f[0], '/')+1:]; b == "flashrom" || b == "flashprog" {
		st.run.Flasher = b
	}
	st.cmdOp = OpProbe
	for i, a := range f[1:] {
		next := ""
		if i+2 < len(f) {
			next = f[i+2]
		}
		switch a {
		case "-r", "--read":
			st.cmdOp = OpRead
		case "-w", "--write":
			st.cmdOp, st.runFile = OpWrite, next
		case "-v", "--verify":
			st.cmdOp, st.runFile = OpVerify, next
		case "-E", "--erase":
			st.cmdOp = OpErase
		}
	}
}

func (st *state) fail(line int, text string) {
	st.lastFail = st.hits
	if st.failLine == 0 {
		st.failLine, st.failText = line, text
		st.failStage = st.stage
	}
}

// add records a finding, merging repeats of the same cause and severity.
func (st *state) add(id, sev, summary string, line int, evidence string) *item {
	key := itemKey{id, sev, summary}
	if it, ok := st.byKey[key]; ok {
		it.Count++
		return it
	}
	c := cause(id)
	if summary == "" {
		summary = c.Summary
	}
	it := &item{Finding: Finding{ID: id, Severity: sev, Line: line, Evidence: evidence,
		Summary: summary, Docs: c.Docs, Count: 1}, order: len(st.items), key: key}
	st.items = append(st.items, it)
	st.byKey[key] = it
	return it
}

// mapping records a /dev/mem mapping failure once we know whether the
// flasher could do without that region.
func (st *state) mapping(pm *pendingMap, class int) {
	if class == regionHarmless {
		h := st.harmless[pm.cause]
		if h == nil {
			h = st.add(pm.cause, Info, "", pm.line, pm.text)
			st.harmless[pm.cause] = h
			h.Count = 0
			h.first = "regions the flasher can do without"
			if pm.descr != "" {
				h.first = pm.descr
			}
		}
		h.Count++
		what := h.first
		h.Summary = fmt.Sprintf("the kernel refused %d /dev/mem mapping(s) (first: %s) that the flasher does without — harmless, not the cause of a failure", h.Count, what)
		return
	}
	summary := ""
	if pm.descr != "" {
		summary = fmt.Sprintf("%s; the flasher needs the %s mapping and stopped", cause(pm.cause).Summary, pm.descr)
	}
	it := st.add(pm.cause, Fatal, summary, pm.line, pm.text)
	it.mmap = pm.cause == "devmem_restricted"
	st.fail(pm.line, pm.text)
}

func (st *state) resolvePending(class int) {
	if st.pending == nil {
		return
	}
	pm := st.pending
	st.pending = nil
	if class == regionUnknown {
		// Followed by another mapping attempt: the flasher went on.
		class = regionHarmless
	}
	st.mapping(pm, class)
}

// regionName reads "<descr>" of "Error accessing <descr>, 0x..." (bounded).
func regionName(text []byte) string {
	end := 0
	for end < len(text) && end < 80 && text[end] != ',' {
		end++
	}
	return strings.TrimSpace(string(text[:end]))
}

// hexAt parses a hex number at the start of text (bounded).
func hexAt(text []byte) (uint64, bool) {
	var v uint64
	n := 0
	for n < len(text) && n < 16 {
		b := lower(text[n])
		switch {
		case b >= '0' && b <= '9':
			v = v<<4 | uint64(b-'0')
		case b >= 'a' && b <= 'f':
			v = v<<4 | uint64(b-'a'+10)
		default:
			return v, n > 0
		}
		n++
	}
	return v, n > 0
}

// finishRun settles the outcome of the current run and the causes that
// depend on facts, and hands the run to the chip's state. last says it
// ends the log, where DiagnoseRun's exit status has its say.
func (st *state) finishRun(last bool) {
	if !st.started {
		if !last || st.exit < 0 || len(st.runs) > 0 {
			return // no run here: text that is not flasher output
		}
		// libreflash's own run printed nothing known: the exit status
		// still tells how it ended.
		st.started, st.run.Line = true, 1
	}
	if st.pending != nil {
		cls := regionHarmless
		if st.lastFail > 0 {
			cls = regionFatal
		}
		st.resolvePending(cls)
	}
	if len(st.earlyCheck) > 0 {
		// They came first: they go first.
		before := len(st.items)
		for _, n := range st.earlyCheck {
			if st.writing() {
				st.eraseChecked(n.line, n.text)
			} else {
				st.add("verify_failed", Fatal, "", n.line, n.text)
				st.fail(n.line, n.text)
			}
		}
		early := append([]*item(nil), st.items[before:]...)
		for i, it := range early {
			it.order = i - len(early)
		}
		st.items = append(early, st.items[:before]...)
	}
	if st.eraseFailHit > 0 && st.lastFail == 0 && st.lastSuccess < st.eraseFailHit && !st.verified {
		// An erase failed and nothing after it succeeded.
		it := st.eraseCheck[0]
		st.fail(it.Line, it.Evidence)
	}
	for _, it := range st.items {
		if it.eperm {
			st.resolveEPERM(it)
		} else if it.mmap {
			st.resolveMmap(it)
		}
	}
	switch {
	case st.unknownState:
		st.outcome = UnknownState
	case st.unchanged:
		st.outcome = Unchanged
	case st.lastFail > st.lastSuccess:
		st.outcome = Failed
	case st.open:
		st.outcome = Incomplete
	case st.lastSuccess > 0:
		st.outcome = Success
	default:
		st.outcome = Incomplete
	}
	if st.outcome == Incomplete && !st.open && st.probeLine > 0 && st.c.digits > st.probeLine {
		st.outcome = Success // --flash-size: the size alone on a line after the probe
	}
	if st.eraseTrouble {
		// Erase failures matter when the write failed; when the flasher
		// found another way and the write went through, they are a note.
		for _, it := range st.eraseCheck {
			if st.outcome == Success {
				it.Severity = Info
				it.Summary = "an erase failed and the flasher used another erase function; the operation then succeeded"
			} else {
				it.Severity = Fatal
			}
		}
	}
	if last && st.exit >= 0 {
		switch exit := st.exit; {
		case exit == 0 && st.outcome != Success:
			st.outcome = Success
		case exit > 0 && st.outcome == Incomplete && st.open && st.stage == stageWrite:
			// Stopped while erasing or writing, with no word on the chip.
			st.outcome = UnknownState
			if st.lastFail == 0 {
				st.lastFail = st.hits + 1
			}
		case exit > 0 && (st.outcome == Success || st.outcome == Incomplete):
			st.outcome = Failed
			if st.lastFail == 0 {
				st.lastFail = st.hits + 1
			}
		}
	}
	rec := &runRec{Run: st.run, file: st.runFile}
	rec.Operation = st.operation()
	rec.Outcome = st.outcome
	rec.items, rec.primary = st.ordered()
	rec.Findings = findings(rec.items, rec.Outcome, st.facts, "")
	st.chip.step(rec)
	st.keep(rec)
}

// operation names what the run did: its stages outrank its command line (a
// pasted command may not be the one whose output follows).
func (st *state) operation() string {
	switch {
	case st.cmdOp == OpErase, st.eraseOnly && st.stages&(1<<stageReadOld) == 0:
		return OpErase
	case st.stages&(1<<stageWrite|1<<stageReadOld) != 0:
		return OpWrite
	case st.cmdOp != "":
		return st.cmdOp
	case st.stages&(1<<stageVerify) != 0:
		return OpVerify
	case st.stages&(1<<stageRead) != 0:
		return OpRead
	case st.probeLine > 0:
		return OpProbe
	}
	return OpUnknown
}

// keep adds a finished run to the result, dropping the oldest one that
// neither came first nor decides the outcome once there are too many.
func (st *state) keep(r *runRec) {
	st.runs = append(st.runs, r)
	if len(st.runs) <= maxRuns {
		return
	}
	for i := 1; i < len(st.runs); i++ {
		if st.runs[i] != st.chip.decider {
			st.runs = append(st.runs[:i], st.runs[i+1:]...)
			st.omitted++
			return
		}
	}
}

// findings materialises a run's items, with the fix for outcome; note, when
// set, marks them as another run's (info only).
func findings(items []*item, outcome string, facts Facts, note string) []Finding {
	out := make([]Finding, 0, len(items))
	for _, it := range items {
		if note != "" && it.Candidate {
			continue // alternatives only matter for the deciding run
		}
		f := it.Finding
		if f.Count == 1 {
			f.Count = 0
		}
		f.Fix = Fix(f.ID, outcome, facts)
		if note != "" && f.Severity != Info {
			f.Severity = Info
			f.Basis = strings.TrimPrefix(f.Basis+"; "+note, "; ")
		}
		out = append(out, f)
	}
	return out
}

func (st *state) useFact(s string) { st.used[s] = true }

func lockdownActive(l string) bool { return l == "integrity" || l == "confidentiality" }

// resolveEPERM decides "Operation not permitted" getting I/O privileges:
// not root, kernel lockdown, or BSD securelevel.
func (st *state) resolveEPERM(it *item) {
	f := st.facts
	set := func(id, basis string, candidates ...string) {
		// The finding changes identity: later repeats must not merge into it
		// under its provisional ID.
		delete(st.byKey, it.key)
		c := cause(id)
		it.ID, it.Summary, it.Docs, it.Basis = id, c.Summary, c.Docs, basis
		for _, alt := range candidates {
			cand := st.add(alt, it.Severity, "", it.Line, it.Evidence)
			cand.Candidate = true
			cand.order = it.order
			cand.Basis = "prints the same message"
		}
		if len(candidates) > 0 {
			it.Check = "On the machine that made the log, run `cat /sys/kernel/security/lockdown`: " +
				"[none] (or no such file) means no lockdown, so the flasher was not running as root (not_root: run it with sudo); " +
				"[integrity] or [confidentiality] means kernel_lockdown. " +
				"`libreflash diagnose` run on that machine checks this itself."
			if st.kernel != "" {
				it.Check += " The log shows the kernel " + st.kernel + "."
			}
		}
	}
	bsd := st.bsdHint || st.os == osBSD
	euid := f.Available && !f.EUIDNotOfRun
	switch {
	case euid && f.EUID != 0:
		st.useFact(fmt.Sprintf("euid=%d", f.EUID))
		set("not_root", fmt.Sprintf("the checks saw effective uid %d", f.EUID))
	case st.userHint:
		// flashrom ≥1.4 checked getuid() itself: the log outranks machine
		// facts gathered later.
		set("not_root", "flashrom says the uid was not 0")
	case f.Available && f.HasSecurelevel && f.Securelevel > 0 && (euid || bsd):
		st.useFact(fmt.Sprintf("securelevel=%d", f.Securelevel))
		set("bsd_securelevel", fmt.Sprintf("kern.securelevel is %d on this machine", f.Securelevel))
	case f.Available && lockdownActive(f.Lockdown):
		st.useFact("lockdown=" + f.Lockdown)
		basis := "kernel lockdown " + f.Lockdown + " is active on this machine, so even root gets this error"
		if euid {
			st.useFact("euid=0")
			basis = "running as root with kernel lockdown " + f.Lockdown
		}
		set("kernel_lockdown", basis)
	case f.Available && f.Lockdown == "" && f.SecureBoot == Yes && !bsd:
		st.useFact("secureboot=yes")
		set("kernel_lockdown", "Secure Boot is on (lockdown state unreadable), which usually locks the kernel down")
	case f.Available && f.Lockdown == "none" && !bsd:
		st.useFact("lockdown=none")
		if euid {
			st.useFact("euid=0")
			set("not_root", "root without kernel lockdown: the process lacked CAP_SYS_RAWIO (a container or sandbox?)")
		} else {
			set("not_root", "no kernel lockdown on this machine, so root would have got I/O privileges: the flasher ran without root")
		}
	case bsd:
		set("bsd_securelevel", "the flasher runs on a BSD, where the securelevel gates I/O privileges", "not_root")
	case st.rootHint:
		set("kernel_lockdown", "flashrom says it ran as root and the kernel refused")
	case st.lockdownLog:
		set("kernel_lockdown", "the kernel log shows lockdown refusing the flasher")
	case st.cmd == cmdContainer:
		set("not_root", "the prompt is a container's or toolbox's: the flasher had no CAP_SYS_RAWIO there, root or not; run it on the host")
	case st.cmd == cmdSudo:
		set("kernel_lockdown", "the command line ran under sudo, so it was root", "not_root")
	case st.cmd == cmdRoot:
		set("kernel_lockdown", "the command line ran from a root prompt (#)", "not_root")
	case st.cmd == cmdUser:
		set("not_root", "the command line ran from a user prompt without sudo", "kernel_lockdown")
	default:
		set("not_root", "most common cause; nothing in the log tells them apart", "kernel_lockdown")
	}
}

// resolveMmap decides a fatal /dev/mem refusal: STRICT_DEVMEM and drivers,
// or kernel lockdown.
func (st *state) resolveMmap(it *item) {
	f := st.facts
	toLockdown := func(basis string) {
		c := cause("kernel_lockdown")
		it.ID, it.Summary, it.Docs, it.Basis = c.ID, c.Summary, c.Docs, basis
	}
	switch {
	case f.Available && lockdownActive(f.Lockdown):
		st.useFact("lockdown=" + f.Lockdown)
		toLockdown("kernel lockdown " + f.Lockdown + " is active")
	case f.Available && f.Lockdown == "" && f.SecureBoot == Yes:
		st.useFact("secureboot=yes")
		toLockdown("Secure Boot is on (lockdown state unreadable)")
	case f.Available:
		var why []string
		if f.Lockdown != "" {
			st.useFact("lockdown=" + f.Lockdown)
			why = append(why, "lockdown "+f.Lockdown)
		}
		if f.StrictDevmem == Yes || f.IOStrictDevmem == Yes {
			st.useFact("strict_devmem=yes")
			why = append(why, "kernel built with STRICT_DEVMEM")
		}
		if f.IomemRelaxed != Unknown {
			st.useFact("iomem_relaxed=" + f.IomemRelaxed.String())
			why = append(why, "iomem=relaxed "+f.IomemRelaxed.String())
		}
		if len(f.Drivers) > 0 {
			st.useFact("drivers=" + strings.Join(f.Drivers, ","))
			why = append(why, "loaded: "+strings.Join(f.Drivers, ", "))
		}
		it.Basis = strings.Join(why, "; ")
	case st.lockdownLog:
		toLockdown("the kernel log shows lockdown refusing the flasher")
	case st.devmemLog:
		it.Basis = "the kernel log shows STRICT_DEVMEM refusing the flasher"
	default:
		it.Basis = "the usual cause; kernel lockdown refuses the same mapping"
		it.Check = "`cat /sys/kernel/security/lockdown`: [none] means STRICT_DEVMEM or a driver (devmem_restricted); integrity or confidentiality means kernel_lockdown."
		cand := st.add("kernel_lockdown", Fatal, "", it.Line, it.Evidence)
		cand.Candidate, cand.order = true, it.order
		cand.Basis = "the same message under kernel lockdown"
	}
}

// chipState follows the chip through the runs: its state after the last
// run that touched it, and the run that decided that state.
type chipState struct {
	state      string  // "" while no run wrote, erased or settled it
	decider    *runRec // the run behind state
	failedFile string  // the image of the failed write behind state
	last       *runRec // the last run, for logs where nothing wrote
}

// broken reports whether the chip may be half written.
func (c *chipState) broken() bool { return c.state == UnknownState || c.state == Incomplete }

// step takes one finished run. A run that wrote nothing cannot mend a
// half-written chip; a verified write of another image than the failed one
// (libreflash's rollback, or the backup by name) rolls it back; a verify
// that finds another image than the failed one shows nothing was written.
func (c *chipState) step(r *runRec) {
	c.last = r
	switch r.Operation {
	case OpWrite, OpErase:
		switch r.Outcome {
		case Success:
			if c.decider != nil && c.state != Success && c.state != RolledBack &&
				(r.Label == "rollback" || r.file != "" && c.failedFile != "" && r.file != c.failedFile) {
				c.state = RolledBack // the failed write stays the decider: its cause is the story
				return
			}
			c.state, c.decider = Success, r
		case Unchanged:
			if !c.broken() {
				c.state, c.decider, c.failedFile = Unchanged, r, r.file
			}
		case UnknownState, Incomplete:
			if c.broken() {
				if r.Outcome == UnknownState {
					c.state = UnknownState
				}
				return
			}
			c.state, c.decider, c.failedFile = r.Outcome, r, r.file
		default: // Failed: before the chip, or without a word on it
			if !c.broken() {
				c.state, c.decider, c.failedFile = Failed, r, r.file
			}
		}
	case OpVerify:
		if r.Outcome != Success || c.decider == nil || r.file == "" || c.failedFile == "" {
			return
		}
		if c.broken() || c.state == Failed {
			if r.file == c.failedFile {
				c.state, c.decider = Success, r // the image is there after all
			} else {
				c.state = Unchanged // the chip holds another image: the old one
			}
		}
	}
}

// outcome is the overall outcome and the run that decided it.
func (c *chipState) outcome() (string, *runRec) {
	if c.decider == nil {
		if c.last == nil {
			return "", nil
		}
		return c.last.Outcome, c.last
	}
	return c.state, c.decider
}

// ordered returns the run's items, primary cause first when the run
// failed, then candidates, then by severity and order of appearance. A
// successful run has no fatal findings.
func (st *state) ordered() ([]*item, bool) {
	run := st.items
	if st.outcome == Success {
		for _, it := range run {
			if it.Severity == Fatal {
				it.Severity = Warning
			}
		}
	}
	var primary *item
	if st.outcome != Success && (st.outcome != Incomplete || st.lastFail > 0) {
		primary = st.pickPrimary(st.items)
		run = st.items // pickPrimary may add one
	}
	items := make([]*item, 0, len(run))
	if primary != nil {
		items = append(items, primary)
	}
	rank := map[string]int{Fatal: 0, Warning: 1, Info: 2}
	rest := make([]*item, 0, len(run))
	for _, it := range run {
		if it != primary {
			rest = append(rest, it)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if a.Candidate != b.Candidate {
			return a.Candidate
		}
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		return a.order < b.order
	})
	return append(items, rest...), primary != nil
}

// result puts the runs together: the overall outcome is the chip's state,
// and the run that decided it gives the findings.
func (st *state) result() Result {
	r := Result{Outcome: Incomplete, Findings: []Finding{}, Runs: make([]Run, 0, len(st.runs)), RunsOmitted: st.omitted}
	for _, run := range st.runs {
		r.Runs = append(r.Runs, run.Run)
	}
	outcome, decider := st.chip.outcome()
	if decider != nil {
		r.Outcome = outcome
		r.Findings = findings(decider.items, outcome, st.facts, "")
		for _, run := range st.runs {
			if run == decider {
				continue
			}
			when := "an earlier"
			if run.Line > decider.Line {
				when = "a later"
			}
			note := fmt.Sprintf("from %s run in this log (line %d: %s, %s)", when, run.Line, run.Operation, run.Outcome)
			r.Findings = append(r.Findings, findings(run.items, run.Outcome, st.facts, note)...)
		}
	}
	for u := range st.used {
		r.FactsUsed = append(r.FactsUsed, u)
	}
	sort.Strings(r.FactsUsed)
	return r
}

// pickPrimary chooses the cause of a failed run: the first fatal finding
// that says why; else a warning that explains what failed; else what failed;
// else unknown.
func (st *state) pickPrimary(run []*item) *item {
	var conseq *item
	for _, it := range run {
		if it.Severity != Fatal || it.Candidate {
			continue
		}
		if !isConsequence(it.ID) {
			return it
		}
		if conseq == nil {
			conseq = it
		}
	}
	what := "unknown"
	if conseq != nil {
		what = conseq.ID
	}
	// Descriptor locks are the more specific explanation when both kinds of
	// protection are reported; firmware write protection does not stop reads.
	readFail := st.failStage == stageRead || st.failStage == stageReadOld
	for _, pass := range []string{"region_locked", ""} {
		for _, it := range run {
			if it.Severity != Warning || (pass != "" && it.ID != pass) {
				continue
			}
			if it.ID == "bios_lock" && readFail {
				continue
			}
			for _, e := range explains[it.ID] {
				if e == what {
					it.Severity = Fatal
					it.Basis = strings.TrimPrefix(it.Basis+"; printed before the failure it explains", "; ")
					return it
				}
			}
		}
	}
	if conseq != nil {
		return conseq
	}
	if st.probeDetails > 0 && st.failLine > st.probeLine {
		// The controller rejected the probe commands, then "found" a chip
		// anyway and could not read it: nothing real answered (flashrom 1.3
		// on a chipset with no SPI flash behind it does exactly this).
		it := st.add("chip_not_found", Fatal, "", st.probeLine, st.probeText)
		it.Basis = fmt.Sprintf("%d transaction errors from the SPI controller while probing (first at line %d), then the operation failed at line %d: the chip named here did not really answer",
			st.probeDetails, st.detailLine, st.failLine)
		return it
	}
	line, evidence := st.failLine, st.failText
	if line == 0 {
		if n := len(st.c.lines); n > 0 {
			line, evidence = st.c.lines[n-1].num, st.c.lineText(n-1)
		}
	}
	it := st.add("unknown", Fatal, "", line, evidence)
	if st.details > 0 {
		it.Basis = fmt.Sprintf("%d transaction/timeout errors from the SPI controller (first at line %d): commands to the chip were rejected", st.details, st.detailLine)
	}
	return it
}
