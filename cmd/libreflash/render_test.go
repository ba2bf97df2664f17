package main

import (
	"bytes"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/pipeline"
)

// backupEvents is a backup run as the pipeline reports it; pct says
// whether the flasher gave percentages (flashprog --progress) or not
// (flashrom 1.3).
func backupEvents(pct bool) []pipeline.Event {
	p := func(v int) *int {
		if !pct {
			return nil
		}
		return pipeline.Percent(v)
	}
	chip := pipeline.ChipRef{Vendor: "Winbond", Name: "W25Q128.V", Size: 16 << 20}
	ev := []pipeline.Event{
		{Data: &pipeline.Stage{Stage: "check", Status: "start"}},
		{Data: &pipeline.Check{Source: "machine", ID: "power", Status: "warn", Summary: "on battery"}},
		{Data: &pipeline.Stage{Stage: "check", Status: "ok"}},
		{Data: &pipeline.Plan{Chip: chip, Steps: []string{"backup"}, ChipReads: 2}},
		{Data: &pipeline.Stage{Stage: "plan", Status: "ok"}},
	}
	for pass := 1; pass <= 2; pass++ {
		ev = append(ev,
			pipeline.Event{Data: &pipeline.Progress{Op: "read", Pass: pass, Passes: 2, Status: "start"}},
			pipeline.Event{Data: &pipeline.Progress{Op: "read", Pass: pass, Passes: 2, Percent: p(42), Elapsed: 1}},
			pipeline.Event{Data: &pipeline.Progress{Op: "read", Pass: pass, Passes: 2, Percent: p(100), Elapsed: 2}},
			pipeline.Event{Data: &pipeline.Progress{Op: "read", Pass: pass, Passes: 2, Status: "ok", Percent: p(100), Elapsed: 2.25}},
		)
	}
	return append(ev, pipeline.Event{Data: &pipeline.Summary{Result: "ok", Exit: 0,
		Backup:    &pipeline.BackupRef{Path: "/s/backups/x/backup.rom", SHA256: "abc"},
		Chip:      &chip,
		ChipReads: 2, Log: "/s/runs/x/flasher.log"}})
}

func TestRenderPlain(t *testing.T) {
	var out, status bytes.Buffer
	r := &renderer{command: "backup", mode: renderPlain, out: &out, status: &status}
	for _, e := range backupEvents(true) {
		r.Event(e)
	}
	r.Close()
	wantStatus := `[warn] power: on battery
checks: ok
plan: Winbond W25Q128.V, 16 MiB
reading the chip (1 of 2)…
reading the chip (1 of 2): done in 2.3s
reading the chip (2 of 2)…
reading the chip (2 of 2): done in 2.3s
`
	if status.String() != wantStatus {
		t.Errorf("status:\n%s\nwant:\n%s", status.String(), wantStatus)
	}
	wantOut := `
result:  ok: read twice, identical, kept
backup:  /s/backups/x/backup.rom
sha256:  abc
chip:    Winbond W25Q128.V, 16 MiB; read 2 times
log:     /s/runs/x/flasher.log
`
	if out.String() != wantOut {
		t.Errorf("summary:\n%s\nwant:\n%s", out.String(), wantOut)
	}
}

// On a terminal, a flasher without percentages shows the elapsed time
// only; one with percentages shows a bar, the percentage and the time left.
func TestRenderTTY(t *testing.T) {
	for _, pct := range []bool{false, true} {
		var out, status bytes.Buffer
		r := &renderer{command: "backup", mode: renderTTY, out: &out, status: &status, width: 80}
		for _, e := range backupEvents(pct) {
			r.Event(e)
		}
		r.Close()
		s := status.String()
		if !strings.Contains(s, "\rreading the chip (2 of 2)") {
			t.Errorf("pct=%v: no live bar:\n%q", pct, s)
		}
		if got := strings.Contains(s, "%"); got != pct {
			t.Errorf("pct=%v: percentage shown=%v:\n%q", pct, got, s)
		}
		if pct && (!strings.Contains(s, " 42%  1s, about 1s left") || !strings.Contains(s, "[====")) {
			t.Errorf("the flasher's 42%% is not shown with the time left:\n%q", s)
		}
		if !pct && !strings.Contains(s, "reading the chip (1 of 2)  2s") {
			t.Errorf("no timer:\n%q", s)
		}
		if !strings.Contains(out.String(), "backup:  /s/backups/x/backup.rom\n") {
			t.Errorf("summary: %q", out.String())
		}
	}
}

// Every event type the pipeline can send has a text rendering (and JSON
// renders them all alike).
func TestRenderEveryEventType(t *testing.T) {
	for _, typ := range pipeline.EventTypes {
		var e pipeline.Event
		if err := json.Unmarshal([]byte(`{"schema":2,"type":"`+typ+`"}`), &e); err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		r := &renderer{command: "install", mode: renderPlain, out: io.Discard, status: io.Discard}
		if !r.text(e.Data) {
			t.Errorf("event type %s has no text rendering", typ)
		}
	}
}

func TestRenderJSON(t *testing.T) {
	var out bytes.Buffer
	r := &renderer{command: "backup", mode: renderJSON, out: &out, json: pipeline.JSONLines(&out)}
	ev := backupEvents(true)
	for _, e := range ev {
		r.Event(e)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(ev) {
		t.Fatalf("%d lines for %d events", len(lines), len(ev))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["type"] == nil {
			t.Errorf("bad line %s: %v", l, err)
		}
	}
	last := lines[len(lines)-1]
	for _, want := range []string{`"type":"summary"`, `"result":"ok"`, `"exit":0`, `"backup":{"path":"/s/backups/x/backup.rom","sha256":"abc"}`,
		`"chip":{"vendor":"Winbond","name":"W25Q128.V","size":16777216}`, `"chip_reads":2`, `"log":"/s/runs/x/flasher.log"`} {
		if !strings.Contains(last, want) {
			t.Errorf("summary %s lacks %s", last, want)
		}
	}
	if !strings.HasPrefix(lines[6], `{"schema":2,"type":"progress"`) || !strings.Contains(lines[6], `"op":"read","pass":1,"passes":2,"percent":42`) {
		t.Errorf("progress line: %s", lines[6])
	}
}

// Every phase the pipeline can report has a name on the screen.
func TestPhaseNames(t *testing.T) {
	for _, p := range constValues(t, filepath.Join("..", "..", "internal", "pipeline"), "Phase") {
		if phaseNames[pipeline.Phase(p)] == "" {
			t.Errorf("phase %q has no name in phaseNames", p)
		}
	}
}

// Every next step and stage the pipeline can name has words on the screen.
func TestNextAndStageWords(t *testing.T) {
	dir := filepath.Join("..", "..", "internal", "pipeline")
	r := &renderer{command: "install"}
	for _, id := range constValues(t, dir, "Next") {
		if got := r.nextTexts(&pipeline.Summary{Next: []pipeline.Next{{ID: id}}}); len(got) != 1 || got[0] == id {
			t.Errorf("next step %q has no words: %q", id, got)
		}
	}
	for _, st := range constValues(t, dir, "Stage") {
		if stageNames[st] == "" {
			t.Errorf("stage %q has no name", st)
		}
	}
	for _, st := range constValues(t, dir, "Step") {
		if stepText[st] == "" && st != pipeline.StepWrite { // the write's words depend on the plan
			t.Errorf("plan step %q has no words", st)
		}
	}
}

// The Dell unlock stage: the board check fails without the manual steps,
// the tool's run is one line, and the board check passing afterwards is
// shown (passing checks are otherwise quiet).
func TestRenderUnlock(t *testing.T) {
	var out, status bytes.Buffer
	r := &renderer{command: "install", mode: renderPlain, out: &out, status: &status}
	for _, d := range []pipeline.Payload{
		&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusStart},
		&pipeline.Check{Source: pipeline.SourceMachine, ID: "board", Status: "fail", Summary: "Dell Latitude E6400: route dell_unlock (locked)", Blocks: true},
		&pipeline.Check{Source: pipeline.SourceMachine, ID: "root", Status: "pass", Summary: "running as root"},
		&pipeline.Stage{Stage: pipeline.StageUnlock, Status: pipeline.StatusStart},
		&pipeline.Unlock{Tool: "/usr/local/sbin/dell_flash_unlock", Outcome: "smis_disabled"},
		&pipeline.Stage{Stage: pipeline.StageUnlock, Status: pipeline.StatusOK},
		&pipeline.Check{Source: pipeline.SourceMachine, ID: "board", Status: "pass", Summary: "Dell Latitude E6400: route dell_unlock (unlocked)"},
		&pipeline.Check{Source: pipeline.SourceMachine, ID: "root", Status: "pass", Summary: "running as root"},
		&pipeline.Unlock{Tool: "/usr/local/sbin/dell_flash_unlock", Exit: 125}, // a failed run: the summary says it
		&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusOK},
	} {
		r.Event(pipeline.Event{Data: d})
	}
	r.Close()
	want := `[FAIL] board: Dell Latitude E6400: route dell_unlock (locked)
unlock: dell_flash_unlock disabled SMIs: the BIOS lock no longer undoes the write enable
unlock: ok
[pass] board: Dell Latitude E6400: route dell_unlock (unlocked)
checks: ok
`
	if status.String() != want {
		t.Errorf("status:\n%s\nwant:\n%s", status.String(), want)
	}
}
