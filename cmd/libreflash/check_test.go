package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

// fixturesDir is internal/preflight/testdata, found from this source file
// because testscript runs commands in a temporary directory.
func fixturesDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "internal", "preflight", "testdata")
}

// TestCheckJSONShape holds check --json to docs/design.md: exactly the
// fields ok, programmer, checks[] of id, status, summary, detail, fix, docs.
func TestCheckJSONShape(t *testing.T) {
	for _, m := range []string{"debian-thinkpad-legacy", "uefi-secureboot-lockdown-integrity", "container-no-devmem"} {
		t.Run(m, func(t *testing.T) {
			saved := newPreflightEnv
			defer func() { newPreflightEnv = saved }()
			e, err := preflighttest.Load(filepath.Join(fixturesDir(), m))
			if err != nil {
				t.Fatal(err)
			}
			newPreflightEnv = func() *preflight.Env { return e }
			var out, errb bytes.Buffer
			code := run([]string{"check", "--json"}, strings.NewReader(""), &out, &errb)
			if code != 3 {
				t.Errorf("exit %d, want 3; stderr %s", code, errb.String())
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(out.Bytes(), &top); err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(top)); !slices.Equal(got, []string{"checks", "ok", "programmer", "schema"}) {
				t.Errorf("top-level keys %v", got)
			}
			var checks []map[string]any
			if err := json.Unmarshal(top["checks"], &checks); err != nil {
				t.Fatal(err)
			}
			allowed := map[string]bool{"id": true, "status": true, "summary": true, "detail": true, "fix": true, "docs": true}
			statuses := map[any]bool{"pass": true, "warn": true, "fail": true, "skip": true}
			for _, c := range checks {
				for k := range c {
					if !allowed[k] {
						t.Errorf("check %v has field %q", c["id"], k)
					}
				}
				if !statuses[c["status"]] || c["id"] == "" || c["summary"] == "" {
					t.Errorf("check %v", c)
				}
			}
			if len(checks) != 9 {
				t.Errorf("%d checks, want 9", len(checks))
			}
		})
	}
}

// BenchmarkCheck is the whole command, rendering included, on a fixture
// machine (target: well under 100 ms).
func BenchmarkCheck(b *testing.B) {
	e, err := preflighttest.Load(filepath.Join(fixturesDir(), "debian-thinkpad-legacy"))
	if err != nil {
		b.Fatal(err)
	}
	saved := newPreflightEnv
	defer func() { newPreflightEnv = saved }()
	newPreflightEnv = func() *preflight.Env { return e }
	for b.Loop() {
		var out bytes.Buffer
		if code := run([]string{"check"}, strings.NewReader(""), &out, &out); code != 3 {
			b.Fatalf("exit %d: %s", code, out.String())
		}
	}
}
