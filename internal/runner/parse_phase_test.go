package runner

import (
	"fmt"
	"strings"
	"testing"
)

// stageTrace summarises stage, phase and progress events: "write+" a stage
// starts (write+? when the flasher printed no line for it), "write:ok" or
// "write:FAILED" it ends, "~erase" the phase changes, "erase%" a run of
// progress in that phase.
func stageTrace(evs []Event) string {
	var out []string
	last := ""
	for _, e := range evs {
		var s string
		switch e.Kind {
		case EvStageStart:
			s = string(e.Stage) + "+"
			if e.Implicit {
				s += "?"
			}
		case EvStageEnd:
			s = string(e.Stage) + ":ok"
			if !e.OK {
				s = string(e.Stage) + ":FAILED"
			}
		case EvPhase:
			s = "~" + string(e.Phase)
		case EvProgress:
			s = fmt.Sprintf("%s/%s%%", e.Stage, e.Phase)
			if e.Pass > 1 {
				s += fmt.Sprintf("#%d", e.Pass)
			}
			if s == last {
				continue
			}
		case EvIdentical, EvUnknownState, EvRegionLocked, EvUntested:
			s = e.Kind.String()
		default:
			continue
		}
		last = s
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

type write struct{ stream, text string }

func feedWrites(ws []write, exit int) []Event {
	var evs []Event
	p := NewParser(func(e Event) { evs = append(evs, e) })
	for _, w := range ws {
		p.Stream(w.stream).Write([]byte(w.text))
	}
	p.Close(exit)
	return evs
}

const fr14 = "flashrom 1.4.0 on Linux 6.1.0-56-amd64 (x86_64)\n"

func bars14(kind string, pcts ...int) string {
	var b strings.Builder
	for _, p := range pcts {
		fmt.Fprintf(&b, "[%s] %d%% complete... ", kind, p)
	}
	return b.String()
}

// TestParsePhases covers what recorded transcripts of the other flashers
// show only in part: flashrom 1.4's erase and write that no line announces,
// its "Erase/write done from …" after a failure, and phases told apart.
func TestParsePhases(t *testing.T) {
	oldRead := "Reading old flash chip contents... " + bars14("READ", 0, 50, 100) + "done.\n"
	tests := []struct {
		name   string
		writes []write
		exit   int
		want   string
	}{
		{"flashrom-1.4-write-bars-without-stage-line", []write{
			{"stdout", fr14 + oldRead +
				bars14("READ", 0, 100, 0, 100) + bars14("WRITE", 0, 40, 100) +
				"Erase/write done from 0 to ffffff\n" +
				"Verifying flash... " + bars14("READ", 0, 100) + "VERIFIED.\n"}}, 0,
			"read+ read/read% read:ok write+? ~erase_check write/erase_check% write/erase_check%#2 ~write write/write% write:ok verify+ verify/verify% verify:ok"},
		{"flashrom-1.4-bar-restarts-per-block", []write{
			{"stdout", fr14 + "Reading old flash chip contents... done.\n" +
				bars14("READ", 0, 50, 100, 0, 100, 0) + bars14("WRITE", 0, 100, 0, 100) +
				"Erase/write done from 0 to ffffff\n"}}, 0,
			"read+ read:ok write+? ~erase_check write/erase_check% write/erase_check%#2 write/erase_check%#3 ~write write/write% write/write%#2 write:ok"},
		{"flashrom-1.4-bars-without-banner", []write{
			{"stdout", oldRead + bars14("WRITE", 0, 100) + "Erase/write done from 0 to ffffff\n"}}, 0,
			"read+ read/read% read:ok write+? write/write% write:ok"},
		{"flashrom-1.4-timer-only-ok", []write{
			{"stdout", fr14 + "Reading old flash chip contents... done.\nErase/write done from 0 to ffffff\n"}}, 0,
			"read+ read:ok write+? write:ok"},
		{"flashrom-1.4-timer-only-exit-2", []write{
			{"stdout", fr14 + "Reading old flash chip contents... done.\nErase/write done from 0 to ffffff\n"}}, 2,
			"read+ read:ok write+? write:FAILED"},
		{"flashrom-1.4-write-failed-then-done", []write{
			{"stdout", fr14 + oldRead + bars14("WRITE", 0, 10)},
			{"stderr", "Write failed at 0x0, Abort.\n"},
			{"stdout", "Erase/write done from 0 to ffffff\n"},
			{"stderr", "Write Failed!Uh oh. Erase/write failed. Checking if anything has changed.\n"},
			{"stdout", "Reading current flash chip contents... " + bars14("READ", 0, 100) + "done.\n"},
			{"stderr", "Apparently at least some data has changed.\nYour flash chip is in an unknown state.\n"}}, 2,
			"read+ read/read% read:ok write+? write/write% write:FAILED read+ read/read% read:ok unknown_state"},
		{"flashrom-1.7-done-before-failure-on-other-pipe", []write{
			{"stdout", "Reading old flash chip contents... done.\nUpdating flash chip contents... Erase/write done from 0 to ffffff\n"},
			{"stderr", "Write failed at 0x0, Abort.\n"},
			{"stdout", "Reading current flash chip contents... done.\n"}}, 2,
			"read+ read:ok write+ write:FAILED read+ read:ok"},
		{"done-from-after-failure-no-uh-oh", []write{
			{"stdout", "Updating flash chip contents... "},
			{"stderr", "ERASE FAILED!\n"},
			{"stdout", "Erase/write done from 0 to ffffff\n"}}, 0,
			"write+ write:FAILED"},
		{"flashrom-1.7-phases", []write{
			{"stdout", "Updating flash chip contents... \n[READ:  5%]...\b\b\b\b\b\b\b\b\b\b\b\b\b\b[READ: 10%][ERASE:  5%]...\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b\b[READ: 10%][ERASE: 100%][WRITE: 50%]...Erase/write done from 0 to ffffff\nVerifying flash... \n[READ: 50%]...VERIFIED.\n"}}, 0,
			"write+ ~erase_check write/erase_check% ~erase write/erase% ~write write/write% write:ok verify+ verify/verify% verify:ok"},
		{"flashprog-erase-then-program", []write{
			{"stdout", "Erasing and writing flash chip... \n\rErasing... [" + strings.Repeat("=", 50) + "] 100% \n\rWriting... [" + strings.Repeat("=", 50) + "] 100% Erase/write done.\n"}}, 0,
			"write+ ~erase write/erase% ~write write/write% write:ok"},
		{"flashrom-1.3-identical", []write{
			{"stdout", "Reading old flash chip contents... done.\nErasing and writing flash chip... \nWarning: Chip content is identical to the requested image.\nErase/write done.\n"}}, 0,
			"read+ read:ok write+ identical write:ok"},
		{"freg-locked", []write{
			{"stdout", "Enabling flash write... FREG0: Flash Descriptor region (0x00000000-0x00000fff) is read-only.\nFREG2: Management Engine region (0x00001000-0x003fffff) is locked.\n"}}, 0,
			"region_locked region_locked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs := feedWrites(tc.writes, tc.exit)
			if got := stageTrace(evs); got != tc.want {
				t.Errorf("trace\n got %s\nwant %s\n%s", got, tc.want, marshalEvents(evs))
			}
			// the same bytes in 2-byte chunks give the same events
			var chunked []write
			for _, w := range tc.writes {
				for _, c := range chunkSplit(2)([]byte(w.text)) {
					chunked = append(chunked, write{w.stream, string(c)})
				}
			}
			if g, w := marshalEvents(feedWrites(chunked, tc.exit)), marshalEvents(evs); string(g) != string(w) {
				t.Errorf("2-byte chunks give other events")
			}
		})
	}
}

// TestParseRegionLocked: the FREG lines name the region and its access.
func TestParseRegionLocked(t *testing.T) {
	evs := feedWrites([]write{{"stdout", "Enabling flash write... FREG0: Flash Descriptor region (0x00000000-0x00000fff) is read-only.\n" +
		"FREG2: Management Engine region (0x00001000-0x003fffff) is locked.\nFREG1: BIOS region (0x00500000-0x007fffff) is locked.\n" +
		"PR0: Warning: 0x00700000-0x007fffff is read-only.\n"}}, 0)
	var got []string
	for _, e := range evs {
		if e.Kind == EvRegionLocked {
			got = append(got, e.Region+"="+e.Access)
		}
	}
	if want := "Flash Descriptor=read-only,Management Engine=locked,BIOS=locked"; strings.Join(got, ",") != want {
		t.Errorf("locked regions %q, want %s", got, want)
	}
}
