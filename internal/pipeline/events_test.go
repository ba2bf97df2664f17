package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"libreflash/internal/diagnose"
	"libreflash/internal/rom"
)

// Every event type has a payload, and every payload goes through JSON and
// back unchanged, flat beside "schema", "type" and "time".
func TestEventJSONRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range EventTypes {
		if seen[typ] {
			t.Errorf("type %q listed twice", typ)
		}
		seen[typ] = true
		p := newPayload(typ)
		if p == nil || p.EventType() != typ {
			t.Fatalf("type %q: payload %T", typ, p)
		}
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	events := []Event{
		{at, &Stage{Stage: StageWrite, Status: StatusSkip, Reason: ReasonNoRestore}},
		{at, &Progress{Stage: StageBackup, Op: PhaseRead, Pass: 1, Passes: 2, Percent: Percent(42), Elapsed: 1.5}},
		{at, &Finding{diagnose.Finding{ID: "devmem_restricted", Severity: "fatal", Candidate: true, Basis: "facts", Count: 3, Check: "look at /proc/iomem"}}},
		{at, &Plan{Image: &ImageRef{Path: "x.rom", Size: 4 << 20, SHA256: "ab"}, Chip: ChipRef{Name: "W25Q128.V", Size: 16 << 20},
			Region: RegionBIOS, RegionReason: RegionLockedRegions, Locked: []string{"ME"}, Steps: []string{StepBackup}, FlasherRuns: 5}},
		{at, &ChipState{State: ChipUnknown, Basis: BasisNoEvidence}},
		{at, &MACEvent{MACChange: rom.MACChange{Mode: "auto", From: "00:f5:f0:40:71:fe", To: "00:21:cc:11:22:33", Source: "backup"}, Changed: true, SHA256: "cd"}},
		{at, &Summary{Result: ResultOK, Next: []Next{{ID: NextReboot}}}},
	}
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `{"schema":2,"type":"`+e.Type()+`","time":"2026-01-02T03:04:05Z",`) {
			t.Errorf("%s", b)
		}
		var back Event
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(back, e) {
			t.Errorf("round trip:\n got %#v\nwant %#v", back.Data, e.Data)
		}
	}
	// A finding is whole (issue 17): candidate, basis, count and check.
	b, _ := json.Marshal(events[2])
	for _, want := range []string{`"candidate":true`, `"basis":"facts"`, `"count":3`, `"check":"look at /proc/iomem"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("finding %s lacks %s", b, want)
		}
	}
}

// docs/design.md documents every event type in its events table.
func TestEventTypesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range EventTypes {
		if !strings.Contains(string(b), "\n| `"+typ+"` | ") {
			t.Errorf("docs/design.md has no row for event type %q", typ)
		}
	}
}
