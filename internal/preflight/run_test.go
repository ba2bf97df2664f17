package preflight_test

import (
	"context"
	"path/filepath"
	"testing"

	"libreflash/internal/diagnose"
	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
)

func load(t testing.TB, m string) *preflight.Env {
	t.Helper()
	e, err := preflighttest.Load(filepath.Join("testdata", m))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Other programmers do not need the kernel's help: the kernel-access checks
// inform but never block; root is optional only for dummy; the flasher is
// needed by all.
func TestProgrammerAware(t *testing.T) {
	ctx := context.Background()
	e := load(t, "uefi-secureboot-lockdown-integrity")
	r := preflight.Run(ctx, e, preflight.Options{})
	if r.OK || len(r.Blocking()) != 6 {
		t.Fatalf("internal: ok=%v blocking=%v", r.OK, r.Blocking())
	}
	for _, p := range []string{"dummy:emulate=W25Q128FV,image=/tmp/chip.bin", "ch341a_spi"} {
		r := preflight.Run(ctx, e, preflight.Options{Programmer: p})
		if !r.OK || len(r.Blocking()) != 0 {
			t.Errorf("%s: blocked by %v", p, r.Blocking())
		}
		if c, _ := r.Get("lockdown"); c.Status != preflight.Warn {
			t.Errorf("%s: lockdown %s, want warn", p, c.Status)
		}
		if r.Programmer != p {
			t.Errorf("programmer %q", r.Programmer)
		}
	}
	user := load(t, "laptop-on-battery") // uid 1000, on battery
	if r := preflight.Run(ctx, user, preflight.Options{Programmer: "dummy"}); !r.OK {
		t.Errorf("dummy as a user on battery blocked by %v", r.Blocking())
	}
	r = preflight.Run(ctx, user, preflight.Options{Programmer: "ch341a_spi"})
	if c, _ := r.Get("root"); c.Status != preflight.Fail {
		t.Errorf("ch341a_spi as a user: root %s, want fail", c.Status)
	}
	nofl := load(t, "container-no-devmem")
	r = preflight.Run(ctx, nofl, preflight.Options{Programmer: "dummy"})
	if c, _ := r.Get("flasher"); c.Status != preflight.Fail || r.OK {
		t.Errorf("dummy without a flasher: flasher %s ok=%v", c.Status, r.OK)
	}
}

func TestFacts(t *testing.T) {
	r := preflight.Run(context.Background(), load(t, "debian-thinkpad-legacy"), preflight.Options{})
	f := r.Facts
	if !f.Available || f.EUID != 0 || f.Lockdown != "none" || f.SecureBoot != diagnose.No ||
		f.StrictDevmem != diagnose.Yes || f.IOStrictDevmem != diagnose.Yes || f.IOPLConfig != diagnose.Yes ||
		f.IomemRelaxed != diagnose.No {
		t.Errorf("facts %+v", f)
	}
	if len(f.Drivers) == 0 || r.Flasher == nil || r.Flasher.Kind != "flashprog" {
		t.Errorf("drivers %v flasher %+v", f.Drivers, r.Flasher)
	}
	r = preflight.Run(context.Background(), load(t, "uefi-secureboot-lockdown-integrity"), preflight.Options{})
	if r.Facts.Lockdown != "integrity" || r.Facts.SecureBoot != diagnose.Yes {
		t.Errorf("facts %+v", r.Facts)
	}
}

// Every fixture's report lists the Linux checks in the contract's order.
func TestOrder(t *testing.T) {
	want := []string{"board", "root", "secureboot", "lockdown", "devmem", "iopl", "flasher", "power", "spi_lock"}
	r := preflight.Run(context.Background(), load(t, "iomem-relaxed"), preflight.Options{})
	if len(r.Checks) != len(want) {
		t.Fatalf("%d checks", len(r.Checks))
	}
	for i, c := range r.Checks {
		if c.ID != want[i] {
			t.Errorf("check %d is %s, want %s", i, c.ID, want[i])
		}
	}
}

// On a BSD the securelevel check appears and the Linux ones skip.
func TestBSDSecurelevel(t *testing.T) {
	for lvl, want := range map[int]preflight.Status{-1: preflight.Pass, 0: preflight.Fail, 1: preflight.Fail} {
		p := preflighttest.Probes{GOOS: "openbsd", GOARCH: "amd64", EUID: 0, Iopl: "ok", Securelevel: &lvl}
		e, err := p.Env(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		r := preflight.Run(context.Background(), e, preflight.Options{})
		c, ok := r.Get("bsd_securelevel")
		if !ok || c.Status != want {
			t.Errorf("securelevel %d: %+v, want %s", lvl, c, want)
		}
		if !r.Facts.HasSecurelevel || r.Facts.Securelevel != lvl {
			t.Errorf("facts %+v", r.Facts)
		}
		if d, _ := r.Get("devmem"); d.Status != preflight.Skip {
			t.Errorf("devmem on openbsd: %s", d.Status)
		}
	}
}

func BenchmarkRun(b *testing.B) {
	e := load(b, "debian-thinkpad-legacy")
	ctx := context.Background()
	for b.Loop() {
		if r := preflight.Run(ctx, e, preflight.Options{}); len(r.Checks) == 0 {
			b.Fatal("no checks")
		}
	}
}
