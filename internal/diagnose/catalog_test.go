package diagnose

import (
	"strings"
	"testing"
)

// TestCatalogFlags: the per-cause facts the pipeline and the commands act on
// come from the catalog, and agree with what the flashers do.
func TestCatalogFlags(t *testing.T) {
	for _, id := range []string{"not_root", "kernel_lockdown", "devmem_restricted", "devmem_missing", "iopl_unavailable",
		"usage_error", "image_size_mismatch", "chip_not_found", "flasher_missing"} {
		if !StopsBeforeChip(id) {
			t.Errorf("StopsBeforeChip(%s) = false", id)
		}
	}
	for _, id := range []string{"write_failed", "verify_failed", "unknown", "bios_lock", "region_locked", "nope"} {
		if StopsBeforeChip(id) {
			t.Errorf("StopsBeforeChip(%s) = true: a write failing for it may have changed the chip", id)
		}
	}
	for _, id := range []string{"not_root", "kernel_lockdown", "devmem_restricted", "bsd_securelevel"} {
		if !NeedsFacts(id) {
			t.Errorf("NeedsFacts(%s) = false", id)
		}
	}
	if NeedsFacts("write_failed") || NeedsFacts("nope") {
		t.Error("NeedsFacts true for a cause no fact decides")
	}
	none := Facts{}
	relaxed := Facts{Available: true, IomemRelaxed: Yes}
	for _, tc := range []struct {
		id   string
		f    Facts
		want bool
	}{
		{"devmem_restricted", none, true},
		{"devmem_restricted", Facts{Available: true, IomemRelaxed: Yes, Drivers: []string{"lpc_ich"}}, true},
		{"devmem_restricted", relaxed, false}, // nothing left for prepare to do
		{"bsd_securelevel", none, true},
		{"devmem_missing", none, false},
		{"kernel_lockdown", none, false},
		{"not_root", none, false},
		{"nope", none, false},
	} {
		if got := Preparable(tc.id, tc.f); got != tc.want {
			t.Errorf("Preparable(%s, %+v) = %v, want %v", tc.id, tc.f, got, tc.want)
		}
	}
	for _, tc := range []struct {
		check string
		f     Facts
		want  string
	}{
		{"devmem", none, "devmem_restricted"},
		{"devmem", Facts{Available: true, DevmemPresent: No}, "devmem_missing"},
		{"devmem", Facts{Available: true, Lockdown: "integrity"}, "kernel_lockdown"},
		{"lockdown", none, "kernel_lockdown"},
		{"secureboot", none, "kernel_lockdown"},
		{"root", none, "not_root"},
		{"iopl", none, "iopl_unavailable"},
		{"bsd_securelevel", none, "bsd_securelevel"},
		{"flasher", none, "flasher_missing"},
		{"spi_lock", none, "bios_lock"},
		{"power", none, ""},
	} {
		if got := CheckCause(tc.check, tc.f); got != tc.want {
			t.Errorf("CheckCause(%s, %+v) = %q, want %q", tc.check, tc.f, got, tc.want)
		}
	}
}

// TestFixBranches: a fix carries only the branch for the outcome at hand
// and agrees with the machine's facts.
func TestFixBranches(t *testing.T) {
	mayReboot := []string{"you may reboot", "safe to reboot"}
	has := func(s string, subs ...string) bool {
		for _, sub := range subs {
			if strings.Contains(strings.ToLower(s), strings.ToLower(sub)) {
				return true
			}
		}
		return false
	}
	for _, c := range Causes() {
		for _, outcome := range []string{UnknownState, Incomplete} {
			if fix := Fix(c.ID, outcome, Facts{}); has(fix, mayReboot...) {
				t.Errorf("Fix(%s, %s) allows a reboot: %q", c.ID, outcome, fix)
			}
		}
		for _, outcome := range []string{Unchanged, RolledBack, Success} {
			if fix := Fix(c.ID, outcome, Facts{}); has(fix, "do not reboot") {
				t.Errorf("Fix(%s, %s) forbids a reboot: %q", c.ID, outcome, fix)
			}
		}
	}
	if fix := Fix("write_failed", UnknownState, Facts{}); !has(fix, "DO NOT REBOOT") {
		t.Errorf("unknown state fix: %q", fix)
	}
	if fix := Fix("write_failed", Unchanged, Facts{}); !has(fix, "you may reboot") {
		t.Errorf("unchanged fix: %q", fix)
	}
	if fix := Fix("write_failed", RolledBack, Facts{}); !has(fix, "backup again") {
		t.Errorf("rolled back fix: %q", fix)
	}
	forced := Facts{Available: true, Lockdown: "integrity", LockdownSource: LockdownKconfig, SecureBoot: No}
	if fix := Fix("kernel_lockdown", Failed, forced); has(fix, "disable secure boot") || !has(fix, "CONFIG_LOCK_DOWN_KERNEL_FORCE") {
		t.Errorf("forced lockdown fix: %q", fix)
	}
	if fix := Fix("kernel_lockdown", Failed, Facts{Available: true, Lockdown: "integrity", SecureBoot: No}); has(fix, "disable secure boot") {
		t.Errorf("lockdown with Secure Boot off tells to disable it: %q", fix)
	}
	if fix := Fix("kernel_lockdown", Failed, Facts{Available: true, Lockdown: "integrity", LockdownSource: LockdownSecureBoot}); !has(fix, "disable secure boot") {
		t.Errorf("Secure Boot lockdown fix: %q", fix)
	}
	if fix := Fix("devmem_missing", Failed, Facts{}); has(fix, "prepare iomem") || !has(fix, "CONFIG_DEVMEM") {
		t.Errorf("missing /dev/mem fix: %q", fix)
	}
	if fix := Fix("devmem_restricted", Failed, Facts{Available: true, IomemRelaxed: Yes}); has(fix, "add iomem=relaxed") {
		t.Errorf("iomem=relaxed in effect, fix still adds it: %q", fix)
	}
	if Fix("nope", Failed, Facts{}) != "" {
		t.Error("Fix of an unknown cause")
	}
}

// TestResultFor: the findings of a write that left the chip in an unknown
// state, once libreflash has rolled it back, carry the rolled-back fix.
func TestResultFor(t *testing.T) {
	r := Diagnose(readFixture(t, "fr-verify-mismatch").body, Facts{})
	if p, ok := r.Primary(); !ok || p.ID != "verify_failed" {
		t.Fatalf("primary %+v", r.Findings)
	}
	got := r.For(RolledBack, Facts{})
	if got[0].Fix != Fix("verify_failed", RolledBack, Facts{}) || strings.Contains(got[0].Fix, "DO NOT REBOOT") {
		t.Errorf("fix %q", got[0].Fix)
	}
	if r.Findings[0].Fix == got[0].Fix {
		t.Error("For changed nothing, or changed the result itself")
	}
}
