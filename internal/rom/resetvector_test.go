package rom

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 13 item 7: the reset vector is checked whenever the image says it
// is x86, not only when a CBFS master header says so.
func TestResetVector(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    spec
		why  string // in the detail
	}{
		{"descriptor", spec{size: 4 << 20, ifd: true, config: x230Config, noReset: true}, "Intel flash descriptor"},
		{"x86 flash map, no master header", spec{size: 4 << 20, config: x200Config, noReset: true}, "flash map ends with the COREBOOT area"},
		{"descriptor, no CBFS at all", spec{size: 4 << 20, ifd: true, noReset: true, noFiller: true}, "Intel flash descriptor"},
	} {
		r := Check(openT(t, build(t, tc.s)), CheckOptions{})
		v := wantStatus(t, r, "coreboot", Fail)
		if !strings.Contains(v.Summary, "no x86 reset vector") || !strings.Contains(v.Detail, tc.why) {
			t.Errorf("%s: %q / %q", tc.name, v.Summary, v.Detail)
		}
		if r.OK {
			t.Errorf("%s: image accepted", tc.name)
		}
	}
	// With the reset vector there, all is well.
	r := Check(openT(t, build(t, spec{size: 4 << 20, config: x200Config})), CheckOptions{})
	wantStatus(t, r, "coreboot", Pass)
}

// An ARM board's flash map starts with its BOOTBLOCK area and its CBFS
// reaches the top: its last bytes may be blank.
func TestResetVectorNotX86(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	size := 4 << 20
	fmd := fmt.Sprintf("FLASH@0 0x%x {\n\tBIOS@0 0x%x {\n\t\tBOOTBLOCK@0 0x20000\n\t\tFMAP@0x20000 0x800\n\t\tCOREBOOT(CBFS)@0x20800 0x%x\n\t}\n}\n",
		size, size, size-0x20800)
	os.WriteFile(filepath.Join(dir, "layout.fmd"), []byte(fmd), 0o644)
	run(t, "fmaptool", filepath.Join(dir, "layout.fmd"), filepath.Join(dir, "layout.fmap"))
	rom := filepath.Join(dir, "arm.rom")
	run(t, "cbfstool", rom, "create", "-M", filepath.Join(dir, "layout.fmap"))
	os.WriteFile(filepath.Join(dir, "config"), []byte("CONFIG_VENDOR_GOOGLE=y\nCONFIG_BOARD_GOOGLE_KEVIN=y\nCONFIG_ARCH_ARM64=y\n"), 0o644)
	run(t, "cbfstool", rom, "add", "-f", filepath.Join(dir, "config"), "-n", "config", "-t", "raw")
	img := openT(t, rom)
	if why := x86Evidence(img, img.Coreboot()); why != "" {
		t.Fatalf("ARM image taken for x86: %s", why)
	}
	r := Check(img, CheckOptions{})
	if v, _ := r.Get("coreboot"); strings.Contains(v.Summary, "reset vector") {
		t.Errorf("reset vector verdict on an ARM image: %+v", v)
	}
}

func TestX86Kconfig(t *testing.T) {
	for k, want := range map[string]bool{
		"ARCH_X86": true, "ARCH_BOOTBLOCK_X86_32": true, "ARCH_RAMSTAGE_X86_64": true,
		"CPU_INTEL_MODEL_206AX": true, "SOUTHBRIDGE_INTEL_BD82X6X": true, "SOC_AMD_PICASSO": true,
		"ARCH_ARM64": false, "BOARD_LENOVO_X230": false, "SOC_ROCKCHIP_RK3399": false, "ARCH_X86_FOO": false,
	} {
		if got := x86Kconfig(k); got != want {
			t.Errorf("x86Kconfig(%s) = %v", k, got)
		}
	}
	// The config alone is enough.
	img := &Image{data: make([]byte, 64)}
	img.data[0] = 1
	if why := x86Evidence(img, &Coreboot{Config: map[string]string{"ARCH_X86": "y"}}); !strings.Contains(why, "CONFIG_ARCH_X86") {
		t.Errorf("config evidence: %q", why)
	}
}
