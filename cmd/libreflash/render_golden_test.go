package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"libreflash/internal/pipeline"
	"libreflash/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the render goldens in testdata/render")

// renderModes renders events the three ways, as a person (or a script)
// sees them: plain lines, the terminal (bars drawn in place, 80 columns),
// and JSON lines. stdout and stderr go to one buffer, as on a terminal.
// Times are made deterministic: every event at one instant, each progress
// update half a second after the one before in its phase.
func renderModes(command string, events []pipeline.Event) []byte {
	var out bytes.Buffer
	for _, mode := range []struct {
		name string
		mode renderMode
	}{{"plain", renderPlain}, {"tty", renderTTY}, {"json", renderJSON}} {
		var b bytes.Buffer
		r := &renderer{command: command, mode: mode.mode, out: &b, status: &b, width: 80}
		if mode.mode == renderJSON {
			r.json = pipeline.JSONLines(&b)
		}
		for _, e := range steadyClock(events) {
			r.Event(e)
		}
		r.Close()
		s := b.String()
		if mode.mode == renderTTY {
			// Make the in-place redraws visible, line by line.
			s = strings.ReplaceAll(s, "\r\x1b[K", "⌫")
			s = strings.ReplaceAll(s, "\r", "\n↵ ")
		}
		fmt.Fprintf(&out, "-- %s --\n%s", mode.name, s)
	}
	return out.Bytes()
}

// steadyClock copies events with deterministic times.
func steadyClock(events []pipeline.Event) []pipeline.Event {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	out := make([]pipeline.Event, len(events))
	n := 0
	for i, e := range events {
		e.Time = t0
		switch d := e.Data.(type) {
		case *pipeline.Progress:
			p := *d
			if p.Status == pipeline.StatusStart {
				n = 0
			}
			p.Elapsed = float64(n) / 2
			n++
			e.Data = &p
		case *pipeline.Summary:
			s := *d
			if s.Seconds > 0 {
				s.Seconds = 42.5
			}
			e.Data = &s
		}
		out[i] = e
	}
	return out
}

// transcriptOp is what a recorded flasher command line does, as backup and
// install would run it: the pipeline stage and the phase shown first.
func transcriptOp(cmdFile string) (stage string, op pipeline.Phase, ok bool) {
	b, err := os.ReadFile(cmdFile)
	if err != nil {
		return "", "", false
	}
	for _, l := range strings.Split(string(b), "\n") {
		var argv []string
		switch {
		case strings.HasPrefix(l, "$ "):
			argv = strings.Fields(l[2:])
		case strings.HasPrefix(l, "command: "):
			argv = strings.Fields(strings.SplitN(l[len("command: "):], "  (", 2)[0])
		default:
			continue
		}
		for _, a := range argv {
			switch a {
			case "-r", "--read":
				return pipeline.StageBackup, pipeline.PhaseRead, true
			case "-w", "--write", "-E", "--erase":
				return pipeline.StageWrite, "", true
			case "-v", "--verify":
				return pipeline.StageVerify, pipeline.PhaseVerify, true
			}
		}
		return "", "", false
	}
	return "", "", false
}

// transcriptChunks reads a recorded run's output split into chunks of size
// bytes (0: whole), stdout first.
func transcriptChunks(t *testing.T, base string, size int) ([]pipeline.Chunk, int) {
	t.Helper()
	var chunks []pipeline.Chunk
	for _, s := range []struct{ ext, stream string }{{".combined", "stdout"}, {".stdout", "stdout"}, {".stderr", "stderr"}} {
		b, err := os.ReadFile(base + s.ext)
		if err != nil {
			continue
		}
		for len(b) > 0 {
			n := len(b)
			switch {
			case size > 0 && size < n:
				n = size
			case size < 0: // line by line
				if i := bytes.IndexByte(b, '\n'); i >= 0 {
					n = i + 1
				}
			}
			chunks = append(chunks, pipeline.Chunk{Stream: s.stream, Data: b[:n]})
			b = b[n:]
		}
	}
	exit := 0
	if b, err := os.ReadFile(base + ".exit"); err == nil {
		exit, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	return chunks, exit
}

// TestRenderTranscripts renders every recorded flasher run that reads,
// writes, verifies or erases the chip, through the runner's parser and the
// pipeline's progress adapter, the three ways, and compares with the
// goldens in testdata/render/flashers. Fed whole, line by line, and in 2-
// and 7-byte chunks, the output must not change.
func TestRenderTranscripts(t *testing.T) {
	root := testutil.Flashers(t, "")
	sets, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, set := range sets {
		if !set.IsDir() {
			continue
		}
		cmds, _ := filepath.Glob(filepath.Join(root, set.Name(), "*.cmd"))
		sort.Strings(cmds)
		for _, cmd := range cmds {
			stage, op, ok := transcriptOp(cmd)
			if !ok {
				continue
			}
			base := strings.TrimSuffix(cmd, ".cmd")
			name := set.Name() + "/" + filepath.Base(base)
			t.Run(name, func(t *testing.T) {
				var whole []byte
				for _, size := range []int{0, -1, 2, 7} {
					chunks, exit := transcriptChunks(t, base, size)
					var events []pipeline.Event
					pipeline.Replay(stage, op, chunks, exit, func(e pipeline.Event) { events = append(events, e) })
					got := renderModes("install", events)
					if size == 0 {
						whole = got
						continue
					}
					if !bytes.Equal(got, whole) {
						t.Fatalf("fed in %d-byte chunks, the output differs from the whole:\n%s", size, testutil.LineDiff(whole, got))
					}
				}
				if dup := repeatedStart(whole); dup != "" {
					t.Errorf("the plain lines start %q twice: a phase done again says which pass or attempt it is", dup)
				}
				golden := filepath.Join("testdata", "render", "flashers", name+".golden")
				if _, err := os.Stat(golden); err != nil && !*update {
					t.Fatalf("no golden for this recorded run: after adding transcripts, run\n"+
						"  go test ./cmd/libreflash -run TestRenderTranscripts -args -update\nand review %s", golden)
				}
				testutil.Golden(t, golden, whole, *update)
			})
			n++
		}
	}
	if n == 0 {
		t.Fatal("no recorded flasher runs found")
	}
}

// repeatedStart is a phase's start line ("reading what the chip holds…")
// that the plain rendering of one flasher run prints twice, or "".
func repeatedStart(rendered []byte) string {
	plain, _, _ := strings.Cut(string(rendered), "-- tty --")
	seen := map[string]bool{}
	for _, l := range strings.Split(plain, "\n") {
		if !strings.HasSuffix(l, "…") || strings.HasPrefix(l, "error: ") || strings.HasPrefix(l, "warning: ") {
			continue
		}
		if seen[l] {
			return l
		}
		seen[l] = true
	}
	return ""
}
