package runner

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"libreflash/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// transcriptSets are the recorded flasher runs (testdata/flashers, with
// their provenance) and the constructed ones, each with the name its goldens
// live under in testdata/parse.
func transcriptSets(t testing.TB) []struct{ name, dir string } {
	return []struct{ name, dir string }{
		{"flashprog", testutil.Flashers(t, "flashprog-p1.5-91-g79d5c66")},
		{"flashrom", testutil.Flashers(t, "flashrom-1.3.0-debian")},
		{"catalog/flashrom-1.3", testutil.Flashers(t, "flashrom-1.3.0-debian-dummy")},
		{"catalog/flashprog-HEAD", testutil.Flashers(t, "flashprog-HEAD-79d5c66-dummy")},
		{"flashprog-1.5", testutil.Flashers(t, "flashprog-1.5")},
		{"flashprog-HEAD-79d5c66", testutil.Flashers(t, "flashprog-HEAD-79d5c66")},
		{"flashrom-1.3.0-debian-matrix", testutil.Flashers(t, "flashrom-1.3.0-debian-matrix")},
		{"flashrom-1.4.0", testutil.Flashers(t, "flashrom-1.4.0")},
		{"flashrom-1.7.0", testutil.Flashers(t, "flashrom-1.7.0")},
		{"constructed", filepath.Join("testdata", "parse", "constructed")},
	}
}

// parseTranscript is one recorded (or constructed) flasher run.
type parseTranscript struct {
	name    string
	streams []streamBytes // in the order they are fed
	exit    int
	op      Stage // from NAME.cmd, as Run tells the parser
}

type streamBytes struct {
	name string
	data []byte
}

// constructedHeader starts the first line of fixtures that were built by
// hand from the catalog's description rather than recorded; it is not fed.
const constructedHeader = "# constructed:"

// loadTranscripts reads NAME.stdout/.stderr/.combined/.exit from dir.
func loadTranscripts(t testing.TB, dir string) []parseTranscript {
	t.Helper()
	exits, err := filepath.Glob(filepath.Join(dir, "*.exit"))
	if err != nil {
		t.Fatal(err)
	}
	if len(exits) == 0 {
		t.Fatalf("no transcripts in %s", dir)
	}
	var out []parseTranscript
	for _, e := range exits {
		base := strings.TrimSuffix(e, ".exit")
		code, err := os.ReadFile(e)
		if err != nil {
			t.Fatal(err)
		}
		tr := parseTranscript{name: filepath.Base(base)}
		if tr.exit, err = strconv.Atoi(strings.TrimSpace(string(code))); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		for _, s := range []string{"stdout", "stderr", "combined"} {
			b, err := os.ReadFile(base + "." + s)
			if os.IsNotExist(err) {
				continue
			} else if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(b, []byte(constructedHeader)) {
				b = b[bytes.IndexByte(b, '\n')+1:]
			}
			tr.streams = append(tr.streams, streamBytes{s, b})
		}
		if len(tr.streams) == 0 {
			t.Fatalf("%s: no output files", base)
		}
		if b, err := os.ReadFile(base + ".cmd"); err == nil {
			tr.op = OperationOf(commandArgs(string(b)))
		}
		out = append(out, tr)
	}
	return out
}

// commandArgs finds the command line in a NAME.cmd file ("$ flashrom …"
// or "command: flashprog …") and splits it at spaces.
func commandArgs(cmd string) []string {
	for _, l := range strings.Split(cmd, "\n") {
		for _, p := range []string{"$ ", "command: "} {
			if strings.HasPrefix(l, p) {
				return strings.Fields(l[len(p):])
			}
		}
	}
	return nil
}

// feedParser runs a parseTranscript through a parser, writing each stream in chunks
// made by split (stdout completely, then stderr: the recorded order of
// streams captured separately is unknown).
func feedParser(tr parseTranscript, split func([]byte) [][]byte) []Event {
	var evs []Event
	p := NewParser(func(e Event) { evs = append(evs, e) })
	p.SetOperation(tr.op)
	for _, s := range tr.streams {
		w := p.Stream(s.name)
		for _, c := range split(s.data) {
			if n, err := w.Write(c); n != len(c) || err != nil {
				panic(fmt.Sprintf("Write = %d, %v", n, err))
			}
		}
	}
	p.Close(tr.exit)
	return evs
}

var splits = []struct {
	name  string
	split func([]byte) [][]byte
}{
	{"whole", func(b []byte) [][]byte { return [][]byte{b} }},
	{"lines", func(b []byte) [][]byte { return bytes.SplitAfter(b, []byte("\n")) }},
	{"1byte", chunkSplit(1)},
	{"2byte", chunkSplit(2)},
	{"7byte", chunkSplit(7)},
}

func chunkSplit(n int) func([]byte) [][]byte {
	return func(b []byte) [][]byte {
		var out [][]byte
		for len(b) > n {
			out = append(out, b[:n])
			b = b[n:]
		}
		return append(out, b)
	}
}

// goldenEvent is Event as one JSON line; fields that do not apply to the
// kind are left out.
type goldenEvent struct {
	Kind     string `json:"kind"`
	Stream   string `json:"stream,omitempty"`
	Line     int    `json:"line,omitempty"`
	Stage    Stage  `json:"stage,omitempty"`
	Phase    Stage  `json:"phase,omitempty"`
	Implicit bool   `json:"implicit,omitempty"`
	FullRead bool   `json:"full_read,omitempty"`
	Region   string `json:"region,omitempty"`
	Access   string `json:"access,omitempty"`
	OK       *bool  `json:"ok,omitempty"`
	Percent  *int   `json:"percent,omitempty"`
	Pass     int    `json:"pass,omitempty"`
	Flasher  string `json:"flasher,omitempty"`
	Version  string `json:"version,omitempty"`
	Chip     *Chip  `json:"chip,omitempty"`
	ExitCode *int   `json:"exit,omitempty"`
	Text     string `json:"text,omitempty"`
}

func marshalEvents(evs []Event) []byte {
	var buf bytes.Buffer
	for _, e := range evs {
		g := goldenEvent{Kind: e.Kind.String(), Stream: e.Stream, Line: e.Line, Stage: e.Stage,
			Phase: e.Phase, Implicit: e.Implicit, FullRead: e.FullRead, Region: e.Region, Access: e.Access,
			Flasher: e.FlasherKind, Version: e.Version, Chip: e.Chip, Text: e.Text}
		switch e.Kind {
		case EvStageEnd:
			g.OK = &e.OK
		case EvProgress:
			g.Percent, g.Pass = &e.Percent, e.Pass
		case EvExit:
			g.ExitCode = &e.ExitCode
		}
		b, err := json.Marshal(g)
		if err != nil {
			panic(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func TestParseGolden(t *testing.T) {
	for _, set := range transcriptSets(t) {
		for _, tr := range loadTranscripts(t, set.dir) {
			t.Run(set.name+"/"+tr.name, func(t *testing.T) {
				want := feedParser(tr, splits[0].split)
				testutil.Golden(t, filepath.Join("testdata", "parse", set.name, tr.name+".golden"), marshalEvents(want), *update)
				for _, s := range splits[1:] {
					got := feedParser(tr, s.split)
					if g, w := marshalEvents(got), marshalEvents(want); !bytes.Equal(g, w) {
						t.Errorf("fed %s: events differ from fed whole:\n%s", s.name, testutil.LineDiff(w, g))
					}
				}
			})
		}
	}
}
