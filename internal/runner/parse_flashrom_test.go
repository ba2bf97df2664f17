package runner

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// parseFlashrom finds the system flashrom (1.3 on Debian; scripts/test.sh
// installs it) for the live tests, which use only the dummy programmer.
func parseFlashrom(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/flashrom", "/usr/bin/flashrom"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("flashrom"); err == nil {
		return p
	}
	t.Skip("flashrom not installed (scripts/test.sh installs it)")
	return ""
}

// TestParseLiveFlashrom runs real flashrom on emulated chips, in a temp dir,
// with both pipes going straight into a parser as they arrive, and checks
// the events against what happened to the chip file.
func TestParseLiveFlashrom(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the full test run covers it (about 15 s)")
	}
	flashrom := parseFlashrom(t)
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	const small, big = 4 << 20, 16 << 20
	oldSmall, newSmall := random(small), random(small)
	oldBig, newBig := random(big), random(big) // the catalog's W25Q128FV recipe

	const sst = "dummy:emulate=SST25VF032B,image=chip.bin"
	const wb = "dummy:emulate=W25Q128FV,image=chip.bin"
	tests := []struct {
		name    string
		chip    []byte // initial chip contents
		file    []byte // file.rom given to -w/-v
		args    []string
		exit    int
		stages  string // stage events as "read+ read:ok write+ ..."
		kinds   []EventKind
		changed bool // chip contents after the run differ from before
	}{
		{"write", oldSmall, newSmall, []string{"-p", sst, "-w", "file.rom"}, 0,
			"read+ read:ok write+ write:ok verify+ verify:ok", nil, true},
		{"write-identical", oldSmall, oldSmall, []string{"-p", sst, "-w", "file.rom"}, 0,
			"read+ read:ok write+ write:ok", []EventKind{EvIdentical}, false},
		{"verify", oldSmall, oldSmall, []string{"-p", sst, "-v", "file.rom"}, 0,
			"verify+ verify:ok", nil, false},
		{"verify-mismatch", oldSmall, newSmall, []string{"-p", sst, "-v", "file.rom"}, 3,
			"verify+ verify:FAILED", []EventKind{EvError}, false},
		{"read", oldSmall, nil, []string{"-p", sst, "-r", "out.rom"}, 0,
			"read+ read:ok", nil, false},
		{"read-refused", oldSmall, nil, []string{"-p", sst + ",spi_blacklist=030b", "-r", "out.rom"}, 1,
			"read+ read:FAILED", []EventKind{EvError}, false},
		{"program-refused-unknown-state", oldBig, newBig, []string{"-p", wb + ",spi_blacklist=02", "-w", "file.rom"}, 2,
			"read+ read:ok write+ write:FAILED read+ read:ok", []EventKind{EvError, EvUnknownState}, true},
		{"erase-ignored-unchanged", oldSmall, newSmall, []string{"-p", sst + ",spi_ignorelist=2052d860c7", "-w", "file.rom"}, 2,
			"read+ read:ok write+ write:FAILED read+ read:ok", []EventKind{EvError, EvUnchanged}, false},
		{"chip-not-found", oldSmall, nil, []string{"-p", sst + ",spi_blacklist=9f90ab", "-r", "out.rom"}, 1,
			"", []EventKind{EvError}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(os.WriteFile(filepath.Join(dir, "chip.bin"), tc.chip, 0o600))
			if tc.file != nil {
				must(os.WriteFile(filepath.Join(dir, "file.rom"), tc.file, 0o600))
			}

			var evs []Event
			var raw bytes.Buffer // both streams, as a runner's log would hold them
			p := NewParser(func(e Event) { evs = append(evs, e) })
			cmd := exec.Command(flashrom, tc.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "LC_ALL=C")
			// One pipe for both streams: flashrom flushes after every
			// message, so the pipe keeps the order it printed in, and the
			// line-number check below is not at the mercy of two readers.
			// (The parser classifies by text, not by stream.)
			w := p.Tee("stdout", &raw)
			cmd.Stdout, cmd.Stderr = w, w
			code := 0
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatal(err)
				}
				code = ee.ExitCode()
			}
			p.Close(code)
			if err := p.LogErr(); err != nil {
				t.Fatal(err)
			}
			dump := func() string { return "output:\n" + raw.String() + "\nevents:\n" + string(marshalEvents(evs)) }

			if code != tc.exit {
				t.Fatalf("exit %d, want %d\n%s", code, tc.exit, dump())
			}
			if e := evs[0]; e.Kind != EvBanner || e.FlasherKind != "flashrom" || e.Version == "" || e.Line != 1 {
				t.Errorf("first event %+v, want the flashrom banner on line 1", e)
			}
			if last := evs[len(evs)-1]; last.Kind != EvExit || last.ExitCode != tc.exit {
				t.Errorf("last event %+v, want EvExit %d", last, tc.exit)
			}
			var stages []string
			seen := map[EventKind]bool{}
			var chip *Chip
			for _, e := range evs {
				seen[e.Kind] = true
				switch e.Kind {
				case EvStageStart:
					stages = append(stages, string(e.Stage)+"+")
				case EvStageEnd:
					res := "ok"
					if !e.OK {
						res = "FAILED"
					}
					stages = append(stages, fmt.Sprintf("%s:%s", e.Stage, res))
				case EvChip:
					chip = e.Chip
				case EvProgress:
					t.Errorf("flashrom 1.3 prints no progress, got %+v", e)
				}
			}
			if got := strings.Join(stages, " "); got != tc.stages {
				t.Errorf("stages %q, want %q\n%s", got, tc.stages, dump())
			}
			for _, k := range tc.kinds {
				if !seen[k] {
					t.Errorf("no %v event\n%s", k, dump())
				}
			}
			if tc.name != "chip-not-found" {
				want := map[int]string{small: "SST25VF032B", big: "W25Q128.V"}[len(tc.chip)]
				if chip == nil || chip.Name != want || chip.SizeBytes != int64(len(tc.chip)) || chip.Bus != "SPI" {
					t.Errorf("chip %+v, want %s of %d bytes on SPI", chip, want, len(tc.chip))
				}
			} else if chip != nil {
				t.Errorf("chip %+v reported although none was found", chip)
			}
			// Unknown state and "unchanged" must tell the truth about the chip.
			after, err := os.ReadFile(filepath.Join(dir, "chip.bin"))
			must(err)
			if changed := !bytes.Equal(after, tc.chip); changed != tc.changed {
				t.Errorf("chip changed = %v, want %v", changed, tc.changed)
			}
			if seen[EvUnchanged] && !bytes.Equal(after, tc.chip) {
				t.Error("EvUnchanged but the chip changed")
			}
			// The log line numbers of the events point at their text.
			logLines := strings.Split(raw.String(), "\n")
			for _, e := range evs {
				if e.Line == 0 || e.Text == "" || e.Kind == EvStageEnd {
					continue
				}
				if e.Line > len(logLines) || !strings.Contains(logLines[e.Line-1], firstWords(e.Text)) {
					t.Errorf("%v event on line %d %q, log line is %q", e.Kind, e.Line, e.Text, logLines[min(e.Line, len(logLines))-1])
				}
			}
		})
	}
}

// firstWords is the start of a text, enough to find it in the log line
// where it starts: up to a stage prefix's "...", since the rest of that line
// may arrive after other output.
func firstWords(s string) string {
	if i := strings.Index(s, "..."); i >= 0 {
		return s[:i+3]
	}
	if len(s) > 20 {
		return s[:20]
	}
	return s
}
