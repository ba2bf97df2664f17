package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"libreflash/internal/pipeline"
)

// syncBuffer is a bytes.Buffer safe for the bar's refresh goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

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
	r := &renderer{mode: renderPlain, out: &out, status: &status}
	for _, e := range backupEvents(true) {
		r.Event(e)
	}
	r.Close()
	wantStatus := `warning: [warn] power: on battery
checks: ok
plan: Winbond W25Q128.V, 16 MiB
reading chip (1 of 2)…
reading chip (1 of 2): done in 2.3s
reading chip (2 of 2)…
reading chip (2 of 2): done in 2.3s
`
	if status.String() != wantStatus {
		t.Errorf("status:\n%s\nwant:\n%s", status.String(), wantStatus)
	}
	wantOut := `backup:  /s/backups/x/backup.rom
sha256:  abc
chip:    Winbond W25Q128.V, 16 MiB (read 2 times, identical)
log:     /s/runs/x/flasher.log
`
	if out.String() != wantOut {
		t.Errorf("summary:\n%s\nwant:\n%s", out.String(), wantOut)
	}
}

// On a terminal, a flasher without percentages shows the elapsed time
// only; one with percentages shows a bar and the percentage.
func TestRenderTTY(t *testing.T) {
	for _, pct := range []bool{false, true} {
		var out syncBuffer
		var status syncBuffer
		r := &renderer{mode: renderTTY, out: &out, status: &status}
		for _, e := range backupEvents(pct) {
			r.Event(e)
			if p, ok := e.Data.(*pipeline.Progress); ok && p.Status == "" {
				time.Sleep(250 * time.Millisecond) // let the bar draw
			}
		}
		r.Close()
		s := status.String()
		if !strings.Contains(s, "reading chip (2 of 2)") || !strings.Contains(s, "\r") {
			t.Errorf("pct=%v: no live bar:\n%q", pct, s)
		}
		if got := strings.Contains(s, "%"); got != pct {
			t.Errorf("pct=%v: percentage shown=%v:\n%q", pct, got, s)
		}
		if pct && !strings.Contains(s, "42") {
			t.Errorf("the flasher's 42%% is not shown:\n%q", s)
		}
		if !strings.Contains(out.String(), "backup:  /s/backups/x/backup.rom\n") {
			t.Errorf("summary: %q", out.String())
		}
	}
}

func TestRenderJSON(t *testing.T) {
	var out bytes.Buffer
	r := &renderer{mode: renderJSON, out: &out, json: pipeline.JSONLines(&out)}
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
