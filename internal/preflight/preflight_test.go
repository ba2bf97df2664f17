package preflight_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/diagnose"
	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
	"libreflash/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// machines lists every fixture directory in testdata, including those other
// branches add (qemu-q35-* captured from real guests).
func machines(t testing.TB) []string {
	ents, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join("testdata", e.Name(), "probes.json")); err == nil {
			out = append(out, e.Name())
		}
	}
	if len(out) < 6 {
		t.Fatalf("only %d fixture machines in testdata", len(out))
	}
	return out
}

// golden is what a fixture's report must be: the JSON report (DESIGN §6)
// and the facts diagnose gets.
type golden struct {
	Report *preflight.Report `json:"report"`
	Facts  factsView         `json:"facts"`
}

// factsView names the facts the checks fill in, so that a field added to
// diagnose.Facts elsewhere does not change every golden.
type factsView struct {
	EUID           int      `json:"euid"`
	Lockdown       string   `json:"lockdown"`
	SecureBoot     string   `json:"secureboot"`
	IomemRelaxed   string   `json:"iomem_relaxed"`
	StrictDevmem   string   `json:"strict_devmem"`
	IOStrictDevmem string   `json:"io_strict_devmem"`
	IOPLConfig     string   `json:"iopl_config"`
	Drivers        []string `json:"drivers"`
	Securelevel    *int     `json:"securelevel,omitempty"`
}

func viewFacts(f diagnose.Facts) factsView {
	v := factsView{EUID: f.EUID, Lockdown: f.Lockdown, SecureBoot: f.SecureBoot.String(),
		IomemRelaxed: f.IomemRelaxed.String(), StrictDevmem: f.StrictDevmem.String(),
		IOStrictDevmem: f.IOStrictDevmem.String(), IOPLConfig: f.IOPLConfig.String(), Drivers: f.Drivers}
	if f.HasSecurelevel {
		v.Securelevel = &f.Securelevel
	}
	return v
}

func TestGolden(t *testing.T) {
	for _, m := range machines(t) {
		t.Run(m, func(t *testing.T) {
			dir := filepath.Join("testdata", m)
			env, err := preflighttest.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			r := preflight.Run(context.Background(), env, preflight.Options{})
			got, err := json.MarshalIndent(golden{Report: r, Facts: viewFacts(r.Facts)}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			testutil.Golden(t, filepath.Join(dir, "report.json.golden"), got, *update)
			testutil.Golden(t, filepath.Join(dir, "report.golden"), []byte(text(r)), *update)
		})
	}
}

// text is a compact human view of a report, for reviewing fixtures.
func text(r *preflight.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "programmer %s ok=%v\n", r.Programmer, r.OK)
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "\n%-4s %s: %s\n", c.Status, c.ID, c.Summary)
		if c.Detail != "" {
			fmt.Fprintf(&b, "  detail: %s\n", c.Detail)
		}
		if c.Fix != "" {
			fmt.Fprintf(&b, "  fix: %s\n", strings.ReplaceAll(c.Fix, "\n", "\n       "))
		}
	}
	return b.String()
}

// TestSecureBootFixForcedLockdown: when the kernel build forces lockdown,
// the Secure Boot check does not pretend that disabling Secure Boot is
// enough: its fix names the kernel option, as diagnose's fix for the
// lockdown does.
func TestSecureBootFixForcedLockdown(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "uefi-secureboot-lockdown-integrity"))); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "root", "boot", "config-6.1.0-56-amd64")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte("# CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY is not set"), []byte("CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY=y"), 1)
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := preflighttest.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := preflight.Run(context.Background(), e, preflight.Options{Programmer: "internal"})
	sb, _ := r.Get("secureboot")
	if sb.Status != preflight.Fail || !strings.Contains(sb.Fix, "CONFIG_LOCK_DOWN_KERNEL_FORCE") || !strings.Contains(sb.Detail, "does not lift") {
		t.Errorf("secureboot check: %+v", sb)
	}
	if r.Facts.LockdownSource != diagnose.LockdownKconfig {
		t.Errorf("facts: lockdown source %q", r.Facts.LockdownSource)
	}
}
