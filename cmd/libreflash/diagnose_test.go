package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestDiagnoseJSONShape holds diagnose --json to docs/design.md: outcome and
// findings[] with id, severity, line, evidence, summary, fix, docs (more
// fields are allowed; these must be there).
func TestDiagnoseJSONShape(t *testing.T) {
	for _, tc := range []struct {
		log  string
		code int
	}{
		{"ERROR: Could not get I/O privileges (Operation not permitted).\nError: Programmer initialization failed.\n", 1},
		{"Reading flash... done.\n", 0},
	} {
		var out, errb bytes.Buffer
		code := run([]string{"diagnose", "--offline", "--json"}, strings.NewReader(tc.log), &out, &errb)
		if code != tc.code {
			t.Fatalf("exit %d, want %d; stderr %s", code, tc.code, errb.String())
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal(out.Bytes(), &top); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(maps.Keys(top))
		if !slices.Contains(keys, "outcome") || !slices.Contains(keys, "findings") {
			t.Errorf("top-level keys %v", keys)
		}
		var findings []map[string]any
		if err := json.Unmarshal(top["findings"], &findings); err != nil {
			t.Fatal(err)
		}
		if findings == nil {
			t.Errorf("findings is null, want a list")
		}
		for _, f := range findings {
			for _, k := range []string{"id", "severity", "line", "evidence", "summary", "fix", "docs"} {
				if _, ok := f[k]; !ok {
					t.Errorf("finding %v lacks %q", f["id"], k)
				}
			}
		}
		if tc.code == 1 && (len(findings) == 0 || findings[0]["severity"] != "fatal" || findings[0]["line"] != 1.0) {
			t.Errorf("first finding %v", findings)
		}
	}
}
