package preflight

import (
	"os"
	"path/filepath"
	"testing"

	"libreflash/internal/diagnose"
)

func TestParseKConfig(t *testing.T) {
	b := []byte("#\n# Linux/x86 6.1.192 Kernel Configuration\n#\nCONFIG_STRICT_DEVMEM=y\n" +
		"# CONFIG_X86_IOPL_IOPERM is not set\nCONFIG_LPC_ICH=m\nCONFIG_LSM=\"lockdown,yama\"\n" +
		"CONFIG_ BROKEN=y\nnot a line\n")
	k := &KConfig{vals: ParseKConfig(b)}
	for name, want := range map[string]diagnose.Tri{
		"CONFIG_STRICT_DEVMEM":    diagnose.Yes,
		"CONFIG_LPC_ICH":          diagnose.Yes,
		"CONFIG_X86_IOPL_IOPERM":  diagnose.No,
		"CONFIG_IO_STRICT_DEVMEM": diagnose.No, // absent from a found config
	} {
		if got := k.Tri(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := k.vals["CONFIG_LSM"]; got != "lockdown,yama" {
		t.Errorf("CONFIG_LSM = %q", got)
	}
	if (&KConfig{}).Tri("CONFIG_STRICT_DEVMEM") != diagnose.Unknown {
		t.Error("a missing config must say Unknown")
	}
}

func TestParseIomem(t *testing.T) {
	b := []byte("fed1c000-fed1ffff : Reserved\n  fed1c000-fed1ffff : pnp 00:01\n    fed1f410-fed1f413 : iTCO_wdt.0.auto\n" +
		"100000000-13fffffff : System RAM\ngarbage\nffff-0000 : backwards\n")
	got := ParseIomem(b)
	if len(got) != 4 {
		t.Fatalf("got %d entries: %+v", len(got), got)
	}
	w := got[2]
	if w.Start != 0xfed1f410 || w.End != 0xfed1f413 || w.Name != "iTCO_wdt.0.auto" || w.Depth != 2 {
		t.Errorf("watchdog entry %+v", w)
	}
	if !w.overlaps(0xfed1c000, 0xfed1ffff) || w.overlaps(0xfed20000, 0xfed2ffff) {
		t.Error("overlap wrong")
	}
	if (IomemEntry{Name: "x"}).overlaps(0, ^uint64(0)) {
		t.Error("hidden (all-zero) addresses must match nothing")
	}
}

// FuzzParseKConfig: the config may come from any file in /boot.
func FuzzParseKConfig(f *testing.F) {
	seedFiles(f, "testdata/*/root/boot/config-*")
	f.Add([]byte("# CONFIG_X is not set\nCONFIG_Y=\"a=b\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for k, v := range ParseKConfig(b) {
			if len(k) < len("CONFIG_") || k[:7] != "CONFIG_" {
				t.Fatalf("key %q", k)
			}
			_ = v
		}
	})
}

func FuzzParseIomem(f *testing.F) {
	seedFiles(f, "testdata/*/root/proc/iomem")
	f.Add([]byte("0-0 : x\n  ffffffffffffffff-ffffffffffffffff : y\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, r := range ParseIomem(b) {
			if r.End < r.Start || r.Depth < 0 {
				t.Fatalf("bad entry %+v", r)
			}
		}
		parseLockdown(string(b))
	})
}

func seedFiles(f *testing.F, glob string) {
	paths, _ := filepath.Glob(glob)
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

func TestParseLockdown(t *testing.T) {
	for in, want := range map[string]string{
		"[none] integrity confidentiality\n": "none",
		"none [integrity] confidentiality":   "integrity",
		"none integrity [confidentiality]":   "confidentiality",
		"":                                   "",
	} {
		if got := parseLockdown(in); got != want {
			t.Errorf("parseLockdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestProgrammerName(t *testing.T) {
	for in, want := range map[string]string{
		"internal": "internal", "dummy:emulate=W25Q128FV,image=x": "dummy", "ch341a_spi": "ch341a_spi",
		"internal:laptop=force_I_want_a_brick": "internal",
	} {
		if got := programmerName(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

// FuzzChipset: config space comes from sysfs or a fixture of any length.
func FuzzChipset(f *testing.F) {
	seedFiles(f, "testdata/*/root/sys/bus/pci/devices/0000:00:1f.0/config")
	f.Add([]byte{0x86, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		root := t.TempDir()
		for _, fn := range []string{"0000:00:1f.0", "0000:00:1f.5"} {
			dir := filepath.Join(root, "sys/bus/pci/devices", fn)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config"), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		c := findChipset(&Env{Root: root})
		if c.length != 0 && c.base == 0 {
			t.Fatalf("window without a base: %+v", c)
		}
	})
}
