package diagnose

import (
	"bytes"
	"fmt"
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
	Outcome  string    `json:"outcome"`
	Findings []Finding `json:"findings"`
	// FactsUsed lists the machine facts that decided a cause ("euid=0", …).
	FactsUsed []string `json:"facts_used,omitempty"`
}

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
	cmdSudo = 1
	cmdUser = 2
)

// itemKey identifies repeats of one finding within a run.
type itemKey struct {
	run              int
	id, sev, summary string
}

// item is a finding under construction.
type item struct {
	Finding
	order   int     // position of the first hit, for stable ordering
	earlier bool    // from an earlier run in the same log
	eperm   bool    // "Operation not permitted": resolved with facts at the end of the run
	mmap    bool    // fatal /dev/mem mapping failure: devmem_restricted or kernel_lockdown
	first   string  // first harmless region, for the summary
	key     itemKey // in state.byKey
}

type state struct {
	c     *cleaned
	facts Facts
	items []*item
	byKey map[itemKey]*item
	used  map[string]bool

	// current run
	runStart                        int // index in items
	stage                           int
	open                            bool
	lastSuccess, lastFail           int // hit counters, 0 = never
	unchanged, unknownState         bool
	failLine, failStage             int
	details, detailLine             int
	probeLine, probeDetails         int // first probe line; transaction errors before it
	probeText                       string
	os                              int
	cmd                             int // cmdSudo, cmdUser: how the pasted command ran
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
// primary cause first. Facts from this machine (the zero value when the log
// comes from elsewhere) decide between causes that print the same message.
// It never fails: anything it cannot read is skipped. Time is linear in
// len(log).
func Diagnose(log []byte, f Facts) Result { return diagnose(log, f, -1) }

// DiagnoseRun is Diagnose for a flasher run libreflash made itself: the
// captured log (stdout and stderr as they arrived), the flasher's exit status
// and this machine's facts. The exit status is the final word on success
// (0) or failure (anything else) where the log alone is not conclusive —
// --flash-size output, a flasher killed mid-operation.
func DiagnoseRun(log []byte, exitCode int, f Facts) Result { return diagnose(log, f, exitCode) }

func diagnose(log []byte, f Facts, exit int) Result {
	st := &state{c: clean(log), facts: f, byKey: map[itemKey]*item{}, used: map[string]bool{}}
	st.resetRun()
	m := getMatcher()
	m.scan(st.c.text, func(pi, end int) {
		st.hits++
		st.hit(&signatures[pi], end-m.lens[pi], end)
	})
	st.finishRun()
	if st.outcome == Incomplete && !st.open && st.sizePrinted() {
		st.outcome = Success
	}
	switch {
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
	return st.result()
}

// sizePrinted reports whether the log ends like a --flash-size run: the
// probe line, then the size in bytes alone on a line (a shell prompt may
// follow).
func (st *state) sizePrinted() bool {
	n := len(st.c.lines)
	for i := n - 1; i >= 1 && i >= n-3; i-- {
		l := st.c.text[st.c.lines[i].start:st.c.lines[i].end]
		if len(l) == 0 || len(l) > 12 || strings.Trim(string(l), "0123456789") != "" {
			continue
		}
		prev := st.c.text[st.c.lines[i-1].start:st.c.lines[i-1].end]
		return bytes.Contains(prev, []byte(`flash chip "`))
	}
	return false
}

func (st *state) resetRun() {
	st.runStart = len(st.items)
	st.stage, st.open = stageNone, false
	st.lastSuccess, st.lastFail = 0, 0
	st.unchanged, st.unknownState = false, false
	st.failLine, st.failStage, st.details, st.detailLine = 0, 0, 0, 0
	st.probeLine, st.probeDetails, st.probeText = 0, 0, ""
	st.os = 0
	st.userHint, st.rootHint, st.bsdHint, st.lockdownLog, st.devmemLog = false, false, false, false, false
	st.access, st.accessLine = "", 0
	st.pending, st.biosCtl = nil, nil
	st.harmless = map[string]*item{}
	st.outcome = ""
}

// hit handles one signature occurrence at text[start:end].
func (st *state) hit(s *sig, start, end int) {
	li := st.c.lineAt(start)
	line := st.c.lines[li].num
	switch s.kind {
	case kBanner:
		if len(st.items) > st.runStart || st.lastSuccess > 0 || st.lastFail > 0 || st.open || st.details > 0 {
			// A second flasher run in the same log: the diagnosis is about
			// the last one. The OS and command line seen just before this
			// banner belong to the new run.
			st.finishRun()
			for _, it := range st.items[st.runStart:] { // earlier runs are marked already
				it.earlier = true
			}
			os, cmd := st.os, st.cmd
			st.resetRun()
			st.os, st.cmd = os, cmd
		}
		return
	case kOS:
		// Only the banner names the OS; flashrom 1.3 prints "On OpenBSD set
		// securelevel=-1 ..." on every system.
		if t := st.c.text[st.c.lines[li].start:st.c.lines[li].end]; bytes.HasPrefix(t, []byte("flashrom ")) || bytes.HasPrefix(t, []byte("flashprog ")) {
			st.os = s.arg
		}
		return
	case kSudo:
		st.cmd = cmdSudo
		return
	case kUserPrompt:
		st.cmd = cmdUser
		return
	case kStage:
		st.stage, st.open = s.arg, true
		return
	case kStageDone:
		st.open = true
		return
	case kStageFail:
		// "FAILED." ends a stage; elsewhere the word is part of a warning
		// ("Setting BIOS Control ... failed.").
		if st.open {
			st.open = false
			st.fail(line)
		}
		return
	case kSuccess:
		st.open = false
		st.lastSuccess = st.hits
		return
	case kFail:
		st.fail(line)
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
		st.access, st.accessLine = regionName(st.c.text, end), line
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
			if v, ok := hexAt(st.c.text, end); ok && v&1 == 1 {
				// Only the lock bit stuck; BIOS Write Enable is set.
				st.biosCtl.Severity = Info
				st.biosCtl.Summary = "BIOS Control could not be changed completely, but BIOS Write Enable is set: writes work"
			}
			st.biosCtl = nil
		}
		return
	case kVerify:
		if st.stage == stageWrite {
			// The erase check inside a write prints the same line; the
			// write failure that follows is the finding.
			return
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
	if it.Severity == Fatal {
		st.fail(line)
	}
}

func (st *state) fail(line int) {
	st.lastFail = st.hits
	if st.failLine == 0 {
		st.failLine = line
		st.failStage = st.stage
	}
}

// add records a finding, merging repeats of the same cause and severity.
func (st *state) add(id, sev, summary string, line int, evidence string) *item {
	key := itemKey{st.runStart, id, sev, summary}
	if it, ok := st.byKey[key]; ok && !it.earlier {
		it.Count++
		return it
	}
	c := cause(id)
	if summary == "" {
		summary = c.Summary
	}
	it := &item{Finding: Finding{ID: id, Severity: sev, Line: line, Evidence: evidence,
		Summary: summary, Fix: c.Fix, Docs: c.Docs, Count: 1}, order: len(st.items), key: key}
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
	st.fail(pm.line)
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
func regionName(text []byte, at int) string {
	end := at
	for end < len(text) && end-at < 80 && !(text[end] == ',') {
		end++
	}
	return strings.TrimSpace(string(text[at:end]))
}

// hexAt parses a hex number at text[at:] (bounded).
func hexAt(text []byte, at int) (uint64, bool) {
	var v uint64
	n := 0
	for at+n < len(text) && n < 16 {
		b := lower(text[at+n])
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
// depend on facts.
func (st *state) finishRun() {
	if st.pending != nil {
		cls := regionHarmless
		if st.lastFail > 0 {
			cls = regionFatal
		}
		st.resolvePending(cls)
	}
	run := st.items[st.runStart:]
	for _, it := range run {
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
		it.ID, it.Summary, it.Fix, it.Docs, it.Basis = id, c.Summary, c.Fix, c.Docs, basis
		for _, alt := range candidates {
			cand := st.add(alt, it.Severity, "", it.Line, it.Evidence)
			cand.Candidate = true
			cand.order = it.order
			cand.Basis = "prints the same message"
		}
		if len(candidates) > 0 {
			it.Check = "Run `id -u` (0 means root) and `cat /sys/kernel/security/lockdown` ([none] means no lockdown): " +
				"as a normal user it is not_root; as root with lockdown active it is kernel_lockdown. " +
				"`libreflash diagnose` run on that machine checks this itself."
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
	case st.cmd == cmdSudo:
		set("kernel_lockdown", "the command line ran under sudo, so it was root", "not_root")
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
		it.ID, it.Summary, it.Fix, it.Docs, it.Basis = c.ID, c.Summary, c.Fix, c.Docs, basis
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

// result orders the findings: primary cause first.
func (st *state) result() Result {
	r := Result{Outcome: st.outcome}
	run := st.items[st.runStart:]
	for _, it := range st.items[:st.runStart] {
		if it.Severity != Info {
			it.Severity = Info
			it.Basis = strings.TrimPrefix(it.Basis+"; from an earlier run in this log", "; ")
		}
	}
	if st.outcome == Success {
		for _, it := range run {
			if it.Severity == Fatal {
				it.Severity = Warning
			}
		}
	}
	var primary *item
	if st.outcome != Success && st.outcome != Incomplete || st.lastFail > 0 {
		primary = st.pickPrimary(run)
	}
	items := make([]*item, 0, len(st.items))
	if primary != nil {
		items = append(items, primary)
	}
	rank := map[string]int{Fatal: 0, Warning: 1, Info: 2}
	rest := make([]*item, 0, len(st.items))
	for _, it := range st.items {
		if it != primary && !(it.earlier && it.Candidate) { // alternatives only matter for the last run
			rest = append(rest, it)
		}
	}
	sort.SliceStable(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if a.earlier != b.earlier {
			return !a.earlier
		}
		if a.Candidate != b.Candidate {
			return a.Candidate
		}
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] < rank[b.Severity]
		}
		return a.order < b.order
	})
	items = append(items, rest...)
	r.Findings = make([]Finding, 0, len(items))
	for _, it := range items {
		f := it.Finding
		if f.Count == 1 {
			f.Count = 0
		}
		f.Fix = Fix(f.ID, st.outcome, st.facts)
		r.Findings = append(r.Findings, f)
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
	line, evidence := st.failLine, ""
	if li := st.findLine(line); li >= 0 {
		evidence = st.c.lineText(li)
	} else if n := len(st.c.lines); n > 0 {
		line, evidence = st.c.lines[n-1].num, st.c.lineText(n-1)
	}
	it := st.add("unknown", Fatal, "", line, evidence)
	if st.details > 0 {
		it.Basis = fmt.Sprintf("%d transaction/timeout errors from the SPI controller (first at line %d): commands to the chip were rejected", st.details, st.detailLine)
	}
	return it
}

func (st *state) findLine(num int) int {
	if num == 0 {
		return -1
	}
	i := sort.Search(len(st.c.lines), func(i int) bool { return st.c.lines[i].num >= num })
	if i < len(st.c.lines) && st.c.lines[i].num == num {
		return i
	}
	return -1
}
