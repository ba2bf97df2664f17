package diagnose

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// A fixture is a log in testdata/logs with "## " header lines: where it
// comes from ("## source:" for recorded runs, "## constructed:" for logs
// built from the flasher's source strings) and what Diagnose must conclude.
type fixture struct {
	name        string
	constructed bool
	wants       []want
	body        []byte
}

type want struct {
	outcome, cause string
	runs           []string // operation:outcome of each run, when given
	facts          Facts
	hasFacts       bool
	candidates     []string
	not            []string
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob("testdata/logs/*.log")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var fs []fixture
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f := fixture{name: strings.TrimSuffix(filepath.Base(p), ".log")}
		for bytes.HasPrefix(data, []byte("## ")) {
			i := bytes.IndexByte(data, '\n')
			if i < 0 {
				i = len(data) - 1
			}
			h := string(data[3:i])
			data = data[i+1:]
			switch {
			case strings.HasPrefix(h, "constructed:"):
				f.constructed = true
			case strings.HasPrefix(h, "want: "):
				f.wants = append(f.wants, parseWant(t, f.name, strings.TrimPrefix(h, "want: ")))
			}
		}
		if len(f.wants) == 0 {
			t.Fatalf("%s: no ## want: line", f.name)
		}
		f.body = data
		fs = append(fs, f)
	}
	return fs
}

func parseWant(t testing.TB, name, s string) want {
	var w want
	for _, tok := range strings.Fields(s) {
		k, v, _ := strings.Cut(tok, "=")
		switch k {
		case "outcome":
			w.outcome = v
		case "cause":
			w.cause = v
		case "candidates":
			w.candidates = strings.Split(v, ",")
		case "not":
			w.not = strings.Split(v, ",")
		case "runs":
			w.runs = strings.Split(v, ",")
		case "facts":
			w.hasFacts = true
			w.facts = parseFacts(t, name, v)
		default:
			t.Fatalf("%s: bad want token %q", name, tok)
		}
	}
	return w
}

func parseFacts(t testing.TB, name, s string) Facts {
	f := Facts{Available: true, EUID: -1}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		tri := map[string]Tri{"yes": Yes, "no": No}[v]
		switch k {
		case "euid":
			f.EUID, _ = strconv.Atoi(v)
		case "lockdown":
			f.Lockdown = v
		case "secureboot":
			f.SecureBoot = tri
		case "strict_devmem":
			f.StrictDevmem = tri
		case "iomem_relaxed":
			f.IomemRelaxed = tri
		case "securelevel":
			f.Securelevel, _ = strconv.Atoi(v)
			f.HasSecurelevel = true
		case "drivers":
			f.Drivers = strings.Split(v, "+")
		case "lockdown_source":
			f.LockdownSource = v
		case "devmem":
			f.DevmemPresent = tri
		default:
			t.Fatalf("%s: unknown fact %q", name, k)
		}
	}
	return f
}

// check asserts what w says about r.
func check(t *testing.T, label string, w want, r Result) {
	t.Helper()
	if r.Outcome != w.outcome {
		t.Errorf("%s: outcome %q, want %q\n%s", label, r.Outcome, w.outcome, dump(r))
	}
	fatal := 0
	for _, f := range r.Findings {
		if f.Severity == Fatal {
			fatal++
		}
		if _, ok := Lookup(f.ID); !ok {
			t.Errorf("%s: finding with unknown id %q", label, f.ID)
		}
	}
	if w.cause == "-" {
		if fatal != 0 {
			t.Errorf("%s: %d fatal findings, want none\n%s", label, fatal, dump(r))
		}
	} else {
		p, ok := r.Primary()
		if !ok || p.ID != w.cause {
			t.Errorf("%s: primary %q (ok %v), want %q\n%s", label, p.ID, ok, w.cause, dump(r))
		}
	}
	if w.runs != nil {
		var got []string
		for _, run := range r.Runs {
			got = append(got, run.Operation+":"+run.Outcome)
		}
		if strings.Join(got, ",") != strings.Join(w.runs, ",") {
			t.Errorf("%s: runs %v, want %v", label, got, w.runs)
		}
	}
	var cands []string
	for _, f := range r.Findings {
		if f.Candidate {
			cands = append(cands, f.ID)
		}
	}
	if w.hasFacts && len(cands) > 0 {
		t.Errorf("%s: with facts, candidates %v remain: the facts must decide\n%s", label, cands, dump(r))
	}
	if w.candidates != nil && strings.Join(cands, ",") != strings.Join(w.candidates, ",") {
		t.Errorf("%s: candidates %v, want %v\n%s", label, cands, w.candidates, dump(r))
	}
	for _, n := range w.not {
		for _, f := range r.Findings {
			if f.ID == n && f.Severity == Fatal {
				t.Errorf("%s: blames %s\n%s", label, n, dump(r))
			}
		}
	}
}

func dump(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  outcome=%s facts=%v\n", r.Outcome, r.FactsUsed)
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "  %s %s line %d cand=%v: %q (%s)\n", f.Severity, f.ID, f.Line, f.Candidate, f.Evidence, f.Basis)
	}
	return b.String()
}

func TestFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			lines := strings.Split(string(fx.body), "\n")
			for _, w := range fx.wants {
				r := Diagnose(fx.body, w.facts)
				label := "no facts"
				if w.hasFacts {
					label = "with facts"
					ambiguous := false
					for _, f := range Diagnose(fx.body, Facts{}).Findings {
						ambiguous = ambiguous || f.Candidate
					}
					if len(r.FactsUsed) == 0 && ambiguous {
						t.Errorf("%s: FactsUsed empty", label)
					}
				}
				check(t, label, w, r)
				// Evidence is the text of the line it names.
				for _, f := range r.Findings {
					if f.Line < 1 || f.Line > len(lines) {
						t.Errorf("%s: %s: line %d out of range", label, f.ID, f.Line)
						continue
					}
					ev := strings.TrimSuffix(f.Evidence, "…")
					if len(ev) > 30 {
						ev = ev[:30]
					}
					if raw := strings.Join(strings.Fields(lines[f.Line-1]), " "); !strings.Contains(raw, ev) {
						t.Errorf("%s: %s: evidence %q not on line %d %q", label, f.ID, f.Evidence, f.Line, raw)
					}
				}
			}
		})
	}
}

// TestCatalog: every cause of docs/design.md ("Cause IDs") is complete and is the primary
// cause of at least one fixture.
func TestCatalog(t *testing.T) {
	ids := []string{"devmem_restricted", "devmem_missing", "kernel_lockdown", "iopl_unavailable", "not_root", "bsd_securelevel",
		"pat_conflict", "bios_lock", "region_locked", "chip_not_found", "multiple_chips", "image_size_mismatch",
		"verify_failed", "write_failed", "unsupported_chipset", "board_mismatch", "laptop_refused",
		"programmer_not_found", "usage_error", "flasher_missing", "unknown"}
	cs := Causes()
	if len(cs) != len(ids) {
		t.Fatalf("%d causes, want %d", len(cs), len(ids))
	}
	covered := map[string]bool{}
	for _, fx := range loadFixtures(t) {
		for _, w := range fx.wants {
			covered[w.cause] = true
		}
	}
	stepRE := regexp.MustCompile(`^\d+\. \S`)
	for i, c := range cs {
		if c.ID != ids[i] {
			t.Errorf("cause %d is %q, want %q", i, c.ID, ids[i])
		}
		if c.Summary == "" || !strings.HasPrefix(c.Docs, "https://") || c.Severity != Fatal {
			t.Errorf("%s: incomplete: %+v", c.ID, c)
		}
		for j, step := range strings.Split(c.Fix, "\n") {
			if !stepRE.MatchString(step) || !strings.HasPrefix(step, strconv.Itoa(j+1)+". ") {
				t.Errorf("%s: fix step %d not numbered: %q", c.ID, j+1, step)
			}
		}
		if c.ID != "unknown" && len(c.Signatures) == 0 {
			t.Errorf("%s: no signatures", c.ID)
		}
		if !covered[c.ID] {
			t.Errorf("%s: no fixture has it as the primary cause", c.ID)
		}
		if l, ok := Lookup(c.ID); !ok || l.ID != c.ID {
			t.Errorf("Lookup(%q) failed", c.ID)
		}
	}
	if c, _ := Lookup("kernel_lockdown"); !slices.Contains(c.Signatures, "Could not get I/O privileges (Operation not permitted)") {
		t.Errorf("kernel_lockdown signatures lack the shared EPERM message: %q", c.Signatures)
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup(nope) succeeded")
	}
}

// Ways people mangle logs when they paste them.
var mangles = map[string]func([]byte) []byte{
	"crlf": func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) },
	"quoted": func(b []byte) []byte {
		return eachLine(b, func(l string) string { return "> " + l })
	},
	"double-quoted": func(b []byte) []byte {
		return eachLine(b, func(l string) string { return ">> " + l })
	},
	"ansi": func(b []byte) []byte {
		return eachLine(b, func(l string) string { return "\x1b[1;31m" + l + "\x1b[0m\x1b]0;title\x07" })
	},
	"terminal-wrapped": func(b []byte) []byte { return wrap(render(b), 72) },
	"raw-wrapped":      func(b []byte) []byte { return wrap(b, 72) },
	"prompt-and-sudo": func(b []byte) []byte {
		return append([]byte("user@x200:~$ sudo flashprog -p internal -r backup.rom\n[sudo] password for user: \nsudo: unable to resolve host x200: Name or service not known\n"),
			append(append([]byte{}, b...), []byte("\nuser@x200:~$ \n")...)...)
	},
	"truncated-start": func(b []byte) []byte {
		for i := 0; i < 3; i++ {
			if j := bytes.IndexByte(b, '\n'); j >= 0 {
				b = b[j+1:]
			}
		}
		return b
	},
	"no-final-newline": func(b []byte) []byte { return bytes.TrimRight(b, "\n") },
}

func eachLine(b []byte, f func(string) string) []byte {
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i, l := range lines {
		lines[i] = f(l)
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// render applies \r and \b as a terminal shows them, which is what a user
// copies from the screen.
func render(b []byte) []byte {
	return eachLine(b, func(l string) string {
		var cur []byte
		pos := 0
		for i := 0; i < len(l); i++ {
			switch c := l[i]; c {
			case '\r':
				pos = 0
			case '\b':
				if pos > 0 {
					pos--
				}
			default:
				if pos < len(cur) {
					cur[pos] = c
				} else {
					cur = append(cur, c)
				}
				pos++
			}
		}
		return string(cur)
	})
}

// wrap breaks lines at spaces to width columns, as mailing-list archives do.
func wrap(b []byte, width int) []byte {
	return eachLine(b, func(l string) string {
		var out strings.Builder
		col := 0
		for i, w := range strings.Split(l, " ") {
			if i > 0 {
				if col+1+len(w) > width {
					out.WriteByte('\n')
					col = 0
				} else {
					out.WriteByte(' ')
					col++
				}
			}
			out.WriteString(w)
			col += len(w)
		}
		return out.String()
	})
}

// TestMangled: recorded logs pasted in all the usual broken ways give the
// same diagnosis.
func TestMangled(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		for name, m := range mangles {
			body := m(append([]byte{}, fx.body...))
			for _, w := range fx.wants {
				if w.hasFacts {
					continue
				}
				if name == "truncated-start" && bytes.Count(fx.body, []byte("\n")) < 8 {
					continue // nothing would be left
				}
				if name == "prompt-and-sudo" && w.candidates != nil {
					// sudo on the command line rightly changes the ranking.
					continue
				}
				w.runs = nil // a prepended command line or a cut start changes the runs, not the outcome
				t.Run(fx.name+"/"+name, func(t *testing.T) { check(t, name, w, Diagnose(body, Facts{})) })
			}
		}
	}
}

func readFixture(t testing.TB, name string) fixture {
	for _, fx := range loadFixtures(t) {
		if fx.name == name {
			return fx
		}
	}
	t.Fatalf("no fixture %s", name)
	return fixture{}
}

// TestEarlierRun: a failed attempt followed by a successful one in the same
// paste is a success, with no fatal finding.
func TestEarlierRun(t *testing.T) {
	fail := readFixture(t, "fp-qemu-q35-internal-not-root").body
	ok := readFixture(t, "fp-read-plain-ok").body
	log := append(append([]byte("$ flashprog -p internal -r x.rom\n"), fail...), append([]byte("$ sudo flashprog -p dummy:emulate=W25Q128FV -r x.rom\n"), ok...)...)
	r := Diagnose(log, Facts{})
	check(t, "fail then ok", want{outcome: Success, cause: "-"}, r)
	if len(r.Findings) == 0 || r.Findings[0].Severity != Info || !strings.Contains(r.Findings[0].Basis, "earlier run") {
		t.Errorf("earlier failure not kept as info\n%s", dump(r))
	}
	// And the other way round: the last run decides.
	r = Diagnose(append(append([]byte{}, ok...), fail...), Facts{})
	check(t, "ok then fail", want{outcome: Failed, cause: "not_root"}, r)
}

// TestTruncatedEnd: a log cut off mid-operation is incomplete, not success.
func TestTruncatedEnd(t *testing.T) {
	for _, tc := range []struct{ fixture, cut string }{
		{"fp-write-plain-ok", "Verifying flash... "},
		{"fp-write-plain-ok", "Erasing and writing flash chip... "},
		{"fp-write-progress-ok", "]  42% "},
		{"fp-read-progress-ok", "]  99% "},
	} {
		body := readFixture(t, tc.fixture).body
		i := bytes.LastIndex(body, []byte(tc.cut))
		if i < 0 {
			t.Fatalf("%s: %q not found", tc.fixture, tc.cut)
		}
		r := Diagnose(body[:i+len(tc.cut)], Facts{})
		check(t, tc.fixture+" cut at "+tc.cut, want{outcome: Incomplete, cause: "-"}, r)
	}
}

// TestFactsDecide: facts turn the ambiguous messages into exactly one cause.
func TestFactsDecide(t *testing.T) {
	log := readFixture(t, "fp-qemu-q35-internal-lockdown-integrity").body
	for _, tc := range []struct {
		facts      Facts
		cause, not string
		used       string
	}{
		{Facts{Available: true, EUID: 1000, Lockdown: "integrity"}, "not_root", "kernel_lockdown", "euid=1000"},
		{Facts{Available: true, EUID: 0, Lockdown: "integrity"}, "kernel_lockdown", "not_root", "lockdown=integrity"},
		{Facts{Available: true, EUID: 0, Lockdown: "confidentiality"}, "kernel_lockdown", "not_root", "lockdown=confidentiality"},
		{Facts{Available: true, EUID: 0, SecureBoot: Yes}, "kernel_lockdown", "not_root", "secureboot=yes"},
		// A pasted log diagnosed later: the uid of libreflash says nothing
		// about the flasher run, the machine's lockdown state does.
		{Facts{Available: true, EUID: 1000, EUIDNotOfRun: true, Lockdown: "integrity"}, "kernel_lockdown", "not_root", "lockdown=integrity"},
		{Facts{Available: true, EUID: 0, EUIDNotOfRun: true, Lockdown: "none"}, "not_root", "kernel_lockdown", "lockdown=none"},
	} {
		r := Diagnose(log, tc.facts)
		check(t, fmt.Sprintf("%+v", tc.facts), want{outcome: Failed, cause: tc.cause, hasFacts: true}, r)
		for _, f := range r.Findings {
			if f.ID == tc.not {
				t.Errorf("%+v: %s listed too\n%s", tc.facts, tc.not, dump(r))
			}
		}
		if !strings.Contains(strings.Join(r.FactsUsed, " "), tc.used) {
			t.Errorf("%+v: facts used %v, want %s", tc.facts, r.FactsUsed, tc.used)
		}
	}
	// Without facts the candidates are ranked and the check is explained.
	r := Diagnose(log, Facts{})
	p, _ := r.Primary()
	if p.Check == "" || !strings.Contains(p.Check, "lockdown") {
		t.Errorf("no check to tell candidates apart: %+v", p)
	}
}

// TestHarmlessDevmem: the 34 refused chip-window mappings of flashrom 1.3
// are reported once, as harmless, and never blamed.
func TestHarmlessDevmem(t *testing.T) {
	r := Diagnose(readFixture(t, "fr-qemu-q35-internal-default").body, Facts{})
	var info *Finding
	for i, f := range r.Findings {
		if f.ID == "devmem_restricted" {
			if f.Severity != Info || info != nil {
				t.Errorf("devmem finding %d: %+v", i, f)
			}
			info = &r.Findings[i]
		}
	}
	if info == nil || info.Count != 34 || !strings.Contains(info.Summary, "harmless") {
		t.Errorf("harmless devmem finding: %+v", info)
	}
	if p, _ := r.Primary(); p.ID != "chip_not_found" || !strings.Contains(p.Basis, "transaction errors") || !strings.Contains(p.Evidence, "M95M02") {
		t.Errorf("primary cause does not explain the bogus chip: %+v", p)
	}
}

// TestLiveFlashrom runs the real flashrom with the dummy programmer and
// injected faults, and diagnoses what it prints.
func TestLiveFlashrom(t *testing.T) {
	fr := "/usr/sbin/flashrom"
	if _, err := os.Stat(fr); err != nil {
		t.Skip("flashrom not installed")
	}
	dir := t.TempDir()
	chip := bytes.Repeat([]byte{0xa5}, 4<<20)
	other := bytes.Repeat([]byte{0x5a}, 4<<20)
	for name, data := range map[string][]byte{"chip.bin": chip, "a.rom": chip, "b.rom": other, "small.rom": chip[:1<<20]} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := "dummy:emulate=SST25VF032B,image=chip.bin"
	for _, tc := range []struct {
		args []string
		w    want
	}{
		{[]string{"-p", e, "-r", "out.rom"}, want{outcome: Success, cause: "-"}},
		{[]string{"-p", e, "-v", "a.rom"}, want{outcome: Success, cause: "-"}},
		{[]string{"-p", e, "-v", "b.rom"}, want{outcome: Failed, cause: "verify_failed"}},
		{[]string{"-p", e, "-w", "small.rom"}, want{outcome: Failed, cause: "image_size_mismatch"}},
		{[]string{"-p", e + ",spi_blacklist=0x9f90ab15", "-r", "out.rom"}, want{outcome: Failed, cause: "chip_not_found"}},
		{[]string{"-p", "dummy:emulate=MX25L6436", "-r", "out.rom"}, want{outcome: Failed, cause: "multiple_chips"}},
		{[]string{"-p", e + ",spi_blacklist=0x030b", "-r", "out.rom"}, want{outcome: Failed, cause: "unknown"}},
		{[]string{"-p", e + ",bogus=1", "-r", "out.rom"}, want{outcome: Failed, cause: "usage_error"}},
	} {
		cmd := exec.Command(fr, tc.args...)
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		check(t, strings.Join(tc.args, " "), tc.w, Diagnose(out, Facts{}))
	}
}

func FuzzDiagnose(f *testing.F) {
	for _, fx := range loadFixtures(f) {
		f.Add(fx.body)
	}
	f.Add([]byte("Error accessing"))
	f.Add([]byte("\x1b[31mERROR: Could not get I/O privileges (Operation not permitted).\r\n"))
	f.Fuzz(func(t *testing.T, log []byte) {
		for _, facts := range []Facts{{}, {Available: true, EUID: 0, Lockdown: "integrity"}} {
			r := Diagnose(log, facts)
			switch r.Outcome {
			case Success, Failed, Unchanged, UnknownState, Incomplete, RolledBack:
			default:
				t.Fatalf("outcome %q", r.Outcome)
			}
			// A half-written chip is never called safe: only a later
			// verified write or verify can settle it.
			broken := false
			for _, run := range r.Runs {
				switch {
				case (run.Operation == OpWrite || run.Operation == OpErase) && (run.Outcome == UnknownState || run.Outcome == Incomplete):
					broken = true
				case (run.Operation == OpWrite || run.Operation == OpErase || run.Operation == OpVerify) && run.Outcome == Success:
					broken = false
				}
			}
			if broken && r.RunsOmitted == 0 && r.Outcome != UnknownState && r.Outcome != Incomplete {
				t.Fatalf("a half-written chip diagnosed %s: %+v", r.Outcome, r.Runs)
			}
			for i, fd := range r.Findings {
				if _, ok := Lookup(fd.ID); !ok {
					t.Fatalf("finding id %q", fd.ID)
				}
				if r.Outcome == Success && fd.Severity == Fatal {
					t.Fatalf("fatal finding on success: %+v", fd)
				}
				if i > 0 && fd.Severity == Fatal && !fd.Candidate && r.Findings[0].Severity != Fatal {
					t.Fatalf("fatal finding not first: %+v", r.Findings)
				}
			}
			switch r.Outcome {
			case Failed, Unchanged, UnknownState, RolledBack:
				if _, ok := r.Primary(); !ok {
					t.Fatalf("%s without a primary cause: %+v", r.Outcome, r.Findings)
				}
			}
		}
	})
}

// BenchmarkDiagnose measures throughput on a large log made of the recorded
// fixtures (progress bars, repeated errors, success and failure runs).
func BenchmarkDiagnose(b *testing.B) {
	var one []byte
	for _, fx := range loadFixtures(b) {
		one = append(one, fx.body...)
	}
	var log []byte
	for len(log) < 32<<20 {
		log = append(log, one...)
	}
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Diagnose(log, Facts{})
	}
}

// TestDiagnoseRun: the exit status settles what the log leaves open.
func TestDiagnoseRun(t *testing.T) {
	ok := readFixture(t, "fp-write-plain-ok").body
	cut := ok[:bytes.Index(ok, []byte("Verifying flash"))]
	check(t, "killed mid-run", want{outcome: Failed, cause: "unknown"}, DiagnoseRun(cut, 143, Facts{}))
	mid := ok[:bytes.Index(ok, []byte("Erase/write done"))]
	check(t, "killed while writing", want{outcome: UnknownState, cause: "unknown"}, DiagnoseRun(mid, 143, Facts{}))
	check(t, "exit 0", want{outcome: Success, cause: "-"}, DiagnoseRun(readFixture(t, "fp-flash-size").body, 0, Facts{}))
	r := DiagnoseRun(readFixture(t, "fp-qemu-q35-internal-not-root").body, 1,
		Facts{Available: true, EUID: 1000, Lockdown: "none"})
	check(t, "live not root", want{outcome: Failed, cause: "not_root", hasFacts: true}, r)
	check(t, "exit 2 keeps the chip state", want{outcome: UnknownState, cause: "bios_lock"},
		DiagnoseRun(readFixture(t, "fp-write-program-blocked").body, 2, Facts{}))
}

// TestPastedRuns: two or more runs pasted into one log (or libreflash's
// own flasher.log) are diagnosed as the chip's state after the last run
// that touched it, with the fix for that state.
func TestPastedRuns(t *testing.T) {
	body := func(name string) []byte { return readFixture(t, name).body }
	cmd := func(c string) []byte { return []byte("user@x200:~$ sudo flashrom -p internal " + c + "\n") }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	broken := body("fr-write-blocked-unknown-state")
	for _, tc := range []struct {
		name string
		log  []byte
		w    want
	}{
		{"half written, then a rollback that wrote nothing",
			cat(broken, body("fr-erase-ignored-unchanged")),
			want{outcome: UnknownState, cause: "bios_lock", runs: []string{"write:unknown_state", "write:unchanged"}}},
		{"half written, then the backup written and verified",
			cat(cmd("-w libreboot.rom"), broken, cmd("-w backup.rom"), body("fr-write-ok")),
			want{outcome: RolledBack, cause: "bios_lock", runs: []string{"write:unknown_state", "write:success"}}},
		{"half written, then the same image retried and verified",
			cat(cmd("-w libreboot.rom"), broken, cmd("-w libreboot.rom"), body("fr-write-ok")),
			want{outcome: Success, cause: "-", runs: []string{"write:unknown_state", "write:success"}}},
		{"half written, then a verify of an unnamed file",
			cat(broken, body("fr-verify-ok")),
			want{outcome: UnknownState, cause: "bios_lock", runs: []string{"write:unknown_state", "verify:success"}}},
		{"half written, then a verify against the backup",
			cat(cmd("-w libreboot.rom"), broken, cmd("-v backup.rom"), body("fr-verify-ok")),
			want{outcome: Unchanged, cause: "bios_lock", runs: []string{"write:unknown_state", "verify:success"}}},
		{"unchanged, then a read",
			cat(body("fr-erase-ignored-unchanged"), body("fr-read-ok")),
			want{outcome: Unchanged, cause: "write_failed", runs: []string{"write:unchanged", "read:success"}}},
		{"written, then a failed read",
			cat(body("fr-write-ok"), body("fr-read-fail")),
			want{outcome: Success, cause: "-", runs: []string{"write:success", "read:failed"}}},
		{"refused before the chip, then written",
			cat(cmd("-w libreboot.rom"), body("vm-not-root"), cmd("-w libreboot.rom"), body("fr-write-ok")),
			want{outcome: Success, cause: "-", runs: []string{"write:failed", "write:success"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Diagnose(tc.log, Facts{})
			check(t, tc.name, tc.w, r)
			if p, ok := r.Primary(); ok {
				safe := r.Outcome == Unchanged || r.Outcome == RolledBack
				if strings.Contains(p.Fix, "you may reboot") && !safe || strings.Contains(p.Fix, "DO NOT REBOOT") && safe {
					t.Errorf("outcome %s, fix %q", r.Outcome, p.Fix)
				}
				if r.Outcome == UnknownState && !strings.Contains(p.Fix, "DO NOT REBOOT") {
					t.Errorf("unknown state, fix %q", p.Fix)
				}
			}
			// The same log streamed in any chunking gives the same result.
			if got, err := DiagnoseReader(iotest.OneByteReader(bytes.NewReader(tc.log)), Facts{}); err != nil || got.Outcome != r.Outcome || len(got.Runs) != len(r.Runs) {
				t.Errorf("one byte at a time: %s, %d runs (%v)", got.Outcome, len(got.Runs), err)
			}
		})
	}
}

// TestNotALog: text that is not flasher output has no runs.
func TestNotALog(t *testing.T) {
	for _, s := range []string{"hello\n", "", "\n\n", "user@x200:~$ ls\nDocuments  Downloads\n", "I'm on Linux 6.1 and it failed (...)\n"} {
		if r := Diagnose([]byte(s), Facts{}); r.FlasherOutput() {
			t.Errorf("%q: runs %+v", s, r.Runs)
		}
	}
	// A filtered paste (grep error) is still flasher output.
	if r := Diagnose([]byte("(...)\nERROR: Could not get I/O privileges (Operation not permitted).\n(...)\n"), Facts{}); !r.FlasherOutput() || r.Outcome != Failed {
		t.Errorf("filtered paste: %s %+v", r.Outcome, r.Runs)
	}
}

// TestStreamedMemory: a log far larger than the window is diagnosed in
// bounded memory: the cleaned text kept behind the matcher stays small.
func TestStreamedWindow(t *testing.T) {
	one := readFixture(t, "fr-write-ok").body
	st := &state{c: &cleaned{}, m: getMatcher(), exit: -1, byKey: map[itemKey]*item{}, used: map[string]bool{}}
	st.resetRun()
	num := 0
	for i := 0; i < 2000; i++ {
		for _, l := range bytes.SplitAfter(one, []byte("\n")) {
			num++
			st.line(bytes.TrimSuffix(l, []byte("\n")), num)
		}
	}
	st.finishRun(true)
	if len(st.c.text) > 17*keepText || cap(st.c.text) > 64*keepText {
		t.Errorf("window %d bytes (cap %d) after %d lines", len(st.c.text), cap(st.c.text), num)
	}
	r := st.result()
	if len(r.Runs) != maxRuns || r.RunsOmitted != 2000-maxRuns || r.Outcome != Success {
		t.Errorf("%d runs, %d omitted, outcome %s", len(r.Runs), r.RunsOmitted, r.Outcome)
	}
}

// TestEPERMFromTheLog: offline, "Operation not permitted" getting I/O
// privileges is ranked by what the log shows — a root prompt, sudo, a user
// prompt, a toolbox — and the check that tells the candidates apart is one
// command, with the kernel the banner names.
func TestEPERMFromTheLog(t *testing.T) {
	body := readFixture(t, "vm-not-root").body
	for _, tc := range []struct {
		prompt, cause, candidate string
	}{
		{"root@x200:~# flashrom -p internal -r x.rom\n", "kernel_lockdown", "not_root"},
		{"user@x200:~$ sudo flashrom -p internal -r x.rom\n", "kernel_lockdown", "not_root"},
		{"user@x200:~$ flashrom -p internal -r x.rom\n", "not_root", "kernel_lockdown"},
		{"\u2b22[user@toolbox ~]$ flashrom -p internal -r x.rom\n", "not_root", ""},
		{"", "not_root", "kernel_lockdown"},
	} {
		r := Diagnose(append([]byte(tc.prompt), body...), Facts{})
		var cands []string
		if tc.candidate != "" {
			cands = []string{tc.candidate}
		}
		check(t, tc.prompt, want{outcome: Failed, cause: tc.cause, candidates: cands}, r)
		p, _ := r.Primary()
		if tc.candidate != "" && (!strings.Contains(p.Check, "cat /sys/kernel/security/lockdown") || !strings.Contains(p.Check, "6.1.0-56-amd64")) {
			t.Errorf("%q: check %q", tc.prompt, p.Check)
		}
	}
}
