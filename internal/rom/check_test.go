package rom

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/exitcode"
)

const (
	x230Config = `CONFIG_VENDOR_LENOVO=y
CONFIG_CBFS_SIZE=0x7e0000
CONFIG_BOARD_LENOVO_X230=y
CONFIG_HAVE_IFD_BIN=y
CONFIG_HAVE_ME_BIN=y
CONFIG_HAVE_GBE_BIN=y
CONFIG_PAYLOAD_GRUB2=y
# CONFIG_HAVE_MRC is not set
`
	t440pConfig = `CONFIG_VENDOR_LENOVO=y
CONFIG_BOARD_LENOVO_THINKPAD_T440P=y
CONFIG_HAVE_MRC=y
CONFIG_MRC_FILE="mrc.bin"
CONFIG_HAVE_ME_BIN=y
`
	hp8560wConfig = `CONFIG_VENDOR_HP=y
CONFIG_BOARD_HP_8560W=y
CONFIG_KBC1126_FIRMWARE=y
CONFIG_HAVE_ME_BIN=y
`
	x200Config = `CONFIG_VENDOR_LENOVO=y
CONFIG_BOARD_LENOVO_X200=y
CONFIG_MAINBOARD_VENDOR="LENOVO"
CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"
`
)

func machine(name string) *Machine { return ReadMachine(filepath.Join("testdata/machines", name)) }

func verdict(t *testing.T, r *Report, id string) Verdict {
	t.Helper()
	v, ok := r.Get(id)
	if !ok {
		t.Fatalf("no %q verdict in %+v", id, r.Verdicts)
	}
	return v
}

func wantStatus(t *testing.T, r *Report, id, status string) Verdict {
	t.Helper()
	v := verdict(t, r, id)
	if v.Status != status {
		t.Errorf("%s: status %s, want %s (%s; %s)", id, v.Status, status, v.Summary, v.Detail)
	}
	return v
}

func TestGoodImagePerSize(t *testing.T) {
	t.Parallel()
	for _, mb := range []int64{4, 8, 12, 16, 32} {
		t.Run(mib(mb<<20), func(t *testing.T) {
			size := mb << 20
			img := openT(t, build(t, spec{size: size, ifd: true, config: x230Config,
				files: []cbfsFile{{name: "img/grub2", typ: "raw", data: filler(1000, 4)}, {name: "grub.cfg", typ: "raw", data: []byte("set timeout=5\n")}}}))
			r := Check(img, CheckOptions{ChipSize: size, Machine: machine("lenovo-x230-factory")})
			if !r.OK {
				t.Fatalf("good image refused: %v", r.Err())
			}
			for _, id := range []string{"size", "chip_size", "blank", "descriptor", "region_mode", "coreboot", "vendor_files", "board", "mac"} {
				wantStatus(t, r, id, Pass)
			}
			if r.Err() != nil {
				t.Errorf("Err() = %v for an OK report", r.Err())
			}
			if img.NeedsRegionMode() || r.RegionMode {
				t.Error("full host access, yet region mode")
			}
			if r.Coreboot.Board.Kconfig != "BOARD_LENOVO_X230" || r.Coreboot.Board.Part != "X230" {
				t.Errorf("board %+v", r.Coreboot.Board)
			}
			if r.MAC == nil || r.MAC.Address != "00:16:d3:12:34:56" || !r.MAC.ChecksumOK {
				t.Errorf("MAC %+v", r.MAC)
			}
		})
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	path := build(t, spec{size: 4 << 20, config: x200Config})
	img := openT(t, path)
	r := Check(img, CheckOptions{ChipSize: 8 << 20})
	v := wantStatus(t, r, "chip_size", Fail)
	if !strings.Contains(v.Summary, "image is 4 MiB but the flash chip is 8 MiB") {
		t.Errorf("summary %q", v.Summary)
	}
	if r.OK {
		t.Error("wrong size accepted")
	}
	var re *RefusedError
	if err := r.Err(); !errors.As(err, &re) || re.ExitCode() != exitcode.Blocked || !strings.Contains(re.Hint(), "8 MiB chip") {
		t.Errorf("Err() = %v", err)
	}
	// Unknown chip: skipped, not failed.
	r = Check(img, CheckOptions{})
	wantStatus(t, r, "chip_size", Skip)

	// 6 MiB is two chips (4 + 2); 5 MiB is no flash size: refused.
	r = Check(openT(t, build(t, spec{size: 6 << 20, config: x200Config})), CheckOptions{})
	wantStatus(t, r, "size", Pass)
	r = Check(openT(t, build(t, spec{size: 5 << 20, config: x200Config})), CheckOptions{})
	wantStatus(t, r, "size", Fail)
	if r.OK {
		t.Error("a 5 MiB image accepted")
	}
	// One byte past a flash size: Libreboot's padded, uninjected image.
	data, err := os.ReadFile(build(t, spec{size: 4 << 20, config: x200Config}))
	if err != nil {
		t.Fatal(err)
	}
	v = wantStatus(t, Check(Parse("padded.rom", append(data, 0)), CheckOptions{}), "size", Fail)
	if !strings.Contains(v.Detail, "pads release images") || !strings.Contains(v.Fix, "./mk inject") {
		t.Errorf("padded image: %+v", v)
	}
}

func TestValidFlashSize(t *testing.T) {
	for n, want := range map[int64]bool{
		128 << 10: true, 512 << 10: true, 1 << 20: true, 2 << 20: true, 4 << 20: true, 6 << 20: true,
		8 << 20: true, 12 << 20: true, 16 << 20: true, 24 << 20: true, 32 << 20: true, 64 << 20: true,
		0: false, 1000000: false, 5 << 20: false, 3 << 20: true, 1536 << 10: false, 12<<20 + 1: false, 128 << 20: false, 64 << 10: false,
	} {
		if got := ValidFlashSize(n); got != want {
			t.Errorf("ValidFlashSize(%d) = %v", n, got)
		}
	}
}

func TestBlankAndJunk(t *testing.T) {
	t.Parallel()
	ff := make([]byte, 4<<20)
	for i := range ff {
		ff[i] = 0xff
	}
	zero := make([]byte, 4<<20)
	nearly := append([]byte(nil), ff...)
	copy(nearly[1<<20:], filler(1000, 5))
	for name, data := range map[string][]byte{"all-ff": ff, "all-zero": zero, "nearly-ff": nearly} {
		t.Run(name, func(t *testing.T) {
			r := Check(Parse(name, data), CheckOptions{ChipSize: 4 << 20})
			wantStatus(t, r, "blank", Fail)
			if r.OK {
				t.Error("blank image accepted")
			}
		})
	}
	// A nearly empty CBFS (config only, no code) is junk too.
	r := Check(openT(t, build(t, spec{size: 4 << 20, config: x200Config, noFiller: true})), CheckOptions{})
	wantStatus(t, r, "blank", Fail)
}

func TestCorruptDescriptor(t *testing.T) {
	t.Parallel()
	path := build(t, spec{size: 8 << 20, ifd: true, config: x230Config})
	good, _ := os.ReadFile(path)
	cases := map[string]struct {
		regs []region
		want string
	}{
		"overlap":       {[]region{{0, 0, 0xfff}, {1, 0x400000, 0x7fffff}, {2, 0x3000, 0x4fffff}, {3, 0x1000, 0x2fff}}, "overlaps"},
		"out-of-bounds": {[]region{{0, 0, 0xfff}, {1, 0x400000, 0xffffff}, {2, 0x3000, 0x3fffff}, {3, 0x1000, 0x2fff}}, "ends beyond the image"},
		"no-bios":       {[]region{{0, 0, 0xfff}, {2, 0x3000, 0x3fffff}, {3, 0x1000, 0x2fff}}, "no BIOS region"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			data := append([]byte(nil), good...)
			writeIFD(data, c.regs, 0xffff0000)
			p := filepath.Join(t.TempDir(), "bad.rom")
			os.WriteFile(p, data, 0o644)
			crossCheckIFD(t, p, Parse(p, data).IFD)
			r := Check(Parse(p, data), CheckOptions{ChipSize: 8 << 20})
			v := wantStatus(t, r, "descriptor", Fail)
			if !strings.Contains(v.Summary+"; "+v.Detail, c.want) {
				t.Errorf("summary %q detail %q, want %q", v.Summary, v.Detail, c.want)
			}
		})
	}
	// Region table pointing outside the descriptor.
	data := append([]byte(nil), good...)
	data[0x16] = 0xff // FRBA 0xff0
	r := Check(Parse("x", data), CheckOptions{})
	wantStatus(t, r, "descriptor", Fail)
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	path := build(t, spec{size: 8 << 20, ifd: true, config: x230Config})
	data, _ := os.ReadFile(path)
	for _, n := range []int{len(data) - 4096, len(data) / 2, 4 << 20} {
		p := filepath.Join(t.TempDir(), "short.rom")
		os.WriteFile(p, data[:n], 0o644)
		r := Check(openT(t, p), CheckOptions{})
		if r.OK {
			t.Errorf("%d-byte truncation accepted: %+v", n, r.Verdicts)
		}
		wantStatus(t, r, "descriptor", Fail) // BIOS region ends past the end
		if v, _ := r.Get("coreboot"); v.Status != Fail && v.Status != Warn {
			t.Errorf("coreboot verdict %+v", v)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	t.Run("without", func(t *testing.T) {
		r := Check(openT(t, build(t, spec{size: 4 << 20})), CheckOptions{Machine: machine("lenovo-x230-factory")})
		v := wantStatus(t, r, "board", Warn)
		if !strings.Contains(v.Summary, "no config file") {
			t.Errorf("summary %q", v.Summary)
		}
		wantStatus(t, r, "vendor_files", Skip)
		if !r.OK {
			t.Errorf("warnings refused the image: %v", r.Err())
		}
	})
	t.Run("compressed", func(t *testing.T) {
		// As coreboot's build stores it on x86 (decompress_test.go has more).
		r := Check(openT(t, build(t, spec{size: 4 << 20, files: []cbfsFile{{name: "config", typ: "raw", data: []byte(strings.Repeat(x230Config, 20)), lzma: true}}})), CheckOptions{})
		if r.Coreboot.Config["BOARD_LENOVO_X230"] != "y" || r.Coreboot.ConfigNote != "" {
			t.Errorf("config %v, note %q", r.Coreboot.Config, r.Coreboot.ConfigNote)
		}
		wantStatus(t, r, "board", Warn) // no machine to compare with
	})
	t.Run("revision", func(t *testing.T) {
		r := Check(openT(t, build(t, spec{size: 4 << 20, config: x200Config, files: []cbfsFile{
			{name: "revision", typ: "raw", data: []byte("COREBOOT_VERSION: 25.06-libreboot\nCOREBOOT_EXTRA_VERSION: \n")},
		}})), CheckOptions{})
		if r.Coreboot.Version != "25.06-libreboot" {
			t.Errorf("version %q", r.Coreboot.Version)
		}
		if b := r.Coreboot.Board; b.Vendor != "LENOVO" || b.Part != "ThinkPad X200" {
			t.Errorf("board %+v", b)
		}
	})
}

func TestVendorFiles(t *testing.T) {
	t.Parallel()
	mrc := cbfsFile{name: "mrc.bin", typ: "mrc", data: filler(4096, 6)}
	cases := []struct {
		name    string
		s       spec
		status  string
		missing string
	}{
		{"haswell-with-mrc", spec{size: 4 << 20, ifd: true, config: t440pConfig, files: []cbfsFile{mrc}}, Pass, ""},
		{"haswell-without-mrc", spec{size: 4 << 20, ifd: true, config: t440pConfig}, Fail, "mrc.bin"},
		{"me-blank", spec{size: 4 << 20, ifd: true, config: x230Config, meBlank: true}, Fail, "Intel ME firmware"},
		{"me-blank-no-config", spec{size: 4 << 20, ifd: true, meBlank: true}, Fail, "ME region but it is empty"},
		{"me-needed-no-descriptor", spec{size: 4 << 20, config: x230Config}, Fail, "Intel ME firmware"},
		{"hp-ec-missing", spec{size: 8 << 20, ifd: true, config: hp8560wConfig}, Fail, "ecfw1.bin"},
		{"hp-ec-present", spec{size: 8 << 20, ifd: true, config: hp8560wConfig, files: []cbfsFile{
			{name: "ecfw1.bin", typ: "raw", data: filler(1024, 7)}, {name: "ecfw2.bin", typ: "raw", data: filler(1024, 8)}}}, Pass, ""},
		{"gm45-none-needed", spec{size: 8 << 20, config: x200Config}, Pass, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Check(openT(t, build(t, c.s)), CheckOptions{})
			v := wantStatus(t, r, "vendor_files", c.status)
			if c.status == Fail {
				if !strings.Contains(v.Summary, c.missing) {
					t.Errorf("summary %q lacks %q", v.Summary, c.missing)
				}
				if !strings.Contains(v.Fix, "./mk inject") || v.Docs != DocsInject {
					t.Errorf("fix %q docs %q", v.Fix, v.Docs)
				}
				if err := r.Err(); err == nil || !strings.Contains(err.(*RefusedError).Hint(), "./mk inject") {
					t.Errorf("Err() = %v", err)
				}
			}
		})
	}
}

func TestBoard(t *testing.T) {
	t.Parallel()
	x230 := build(t, spec{size: 12 << 20, ifd: true, config: x230Config})
	x200 := build(t, spec{size: 8 << 20, config: x200Config})
	hp := build(t, spec{size: 8 << 20, ifd: true, config: hp8560wConfig, files: []cbfsFile{
		{name: "ecfw1.bin", typ: "raw", data: filler(1024, 7)}, {name: "ecfw2.bin", typ: "raw", data: filler(1024, 8)}}})
	cases := []struct {
		rom, machine string
		force        bool
		status       string
		detail       string
	}{
		{x230, "lenovo-x230-factory", false, Pass, "machine's DMI"},
		{x230, "lenovo-x230-coreboot", false, Pass, "running coreboot firmware"},
		{x230, "lenovo-t440p-factory", false, Fail, "ThinkPad T440p"},
		{x230, "lenovo-t440p-factory", true, Warn, "ThinkPad T440p"},
		{x230, "hp-8560w-factory", false, Fail, "Hewlett-Packard"},
		{x230, "dell-e6400-factory", false, Fail, "Latitude E6400"},
		{x200, "lenovo-x200s-factory", false, Warn, "ThinkPad X200s"},
		{hp, "hp-8560w-factory", false, Pass, "HP EliteBook 8560w"},
		{hp, "lenovo-x230-factory", false, Fail, "X230"},
		{x230, "no-such-machine", false, Warn, ""},
	}
	for _, c := range cases {
		t.Run(filepath.Base(filepath.Dir(c.rom))+"/"+c.machine, func(t *testing.T) {
			r := Check(openT(t, c.rom), CheckOptions{Machine: machine(c.machine), ForceBoard: c.force})
			v := wantStatus(t, r, "board", c.status)
			if !strings.Contains(v.Detail, c.detail) {
				t.Errorf("detail %q lacks %q", v.Detail, c.detail)
			}
			if c.status == Fail && !strings.Contains(v.Fix, "--force-board") {
				t.Errorf("fix %q", v.Fix)
			}
		})
	}
}

func TestMachine(t *testing.T) {
	t.Parallel()
	m := machine("lenovo-x230-coreboot")
	if !m.Coreboot || m.ProductVersion != "ThinkPad X230" || !m.Known() {
		t.Errorf("%+v", m)
	}
	m = machine("lenovo-x230-factory")
	if m.Coreboot || m.String() != "LENOVO ThinkPad X230 2325ABC" {
		t.Errorf("%+v %q", m, m.String())
	}
	if ReadMachine(t.TempDir()).Known() {
		t.Error("empty root is known")
	}
	// The kernel's coreboot bus also says "running coreboot".
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "sys/bus/coreboot/devices/cbmem-0"), 0o755)
	if !ReadMachine(root).Coreboot {
		t.Error("coreboot bus not recognised")
	}
}

func TestPlaceholderMAC(t *testing.T) {
	t.Parallel()
	r := Check(openT(t, build(t, spec{size: 8 << 20, ifd: true, config: x230Config, mac: PlaceholderMAC})), CheckOptions{})
	v := wantStatus(t, r, "mac", Warn)
	if !strings.Contains(v.Summary, "00:f5:f0:40:71:fe") || !strings.Contains(v.Fix, "--mac") || !r.MAC.Placeholder {
		t.Errorf("%+v %+v", v, r.MAC)
	}
	if !r.OK {
		t.Error("a placeholder MAC is a warning, not a refusal")
	}
}

func TestRegionMode(t *testing.T) {
	t.Parallel()
	// Host may not write ME nor the descriptor: FLMSTR1 read all, write BIOS+GbE.
	path := build(t, spec{size: 8 << 20, ifd: true, config: x230Config, flmstr1: 0x0a0b0000})
	img := openT(t, path)
	crossCheckIFD(t, path, img.IFD)
	if !img.NeedsRegionMode() {
		t.Fatal("locked ME not seen")
	}
	if got := strings.Join(img.IFD.HostLocked(), ","); got != "fd,me" {
		t.Errorf("locked %q", got)
	}
	r := Check(img, CheckOptions{ChipSize: 8 << 20})
	if !r.RegionMode {
		t.Error("auto did not choose region mode")
	}
	wantStatus(t, r, "region_mode", Pass)
	r = Check(img, CheckOptions{ChipSize: 8 << 20, Region: "full"})
	wantStatus(t, r, "region_mode", Warn)
	// Region mode on a smaller chip: the BIOS region (top 4 MiB of 8) does
	// not fit.
	r = Check(img, CheckOptions{ChipSize: 4 << 20, Region: "bios"})
	wantStatus(t, r, "region_mode", Fail)
	// No descriptor, region mode asked for.
	r = Check(openT(t, build(t, spec{size: 4 << 20, config: x200Config})), CheckOptions{Region: "bios"})
	wantStatus(t, r, "region_mode", Fail)
}

func TestLegacyCBFS(t *testing.T) {
	t.Parallel()
	path := build(t, spec{size: 4 << 20, legacy: true, config: x200Config})
	img := openT(t, path)
	if img.FMAP != nil || img.CBFS == nil || img.CBFS.Source != "master header" {
		t.Fatalf("fmap %v cbfs %+v", img.FMAP, img.CBFS)
	}
	crossCheckCBFS(t, path, img.CBFS)
	r := Check(img, CheckOptions{Machine: machine("lenovo-x200s-factory")})
	wantStatus(t, r, "coreboot", Pass)
	wantStatus(t, r, "board", Warn)
}

func TestPayload(t *testing.T) {
	t.Parallel()
	raw := func(n string) cbfsFile { return cbfsFile{name: n, typ: "raw", data: []byte("x")} }
	cases := []struct {
		files []cbfsFile
		def   string
		all   string
	}{
		{[]cbfsFile{raw("fallback/payload"), raw("img/grub2"), raw("vgaroms/seavgabios.bin")}, "SeaBIOS", "SeaBIOS,GRUB"},
		{[]cbfsFile{raw("fallback/payload"), raw("grub.cfg"), raw("grubtest.cfg")}, "GRUB", "GRUB"},
		{[]cbfsFile{raw("fallback/payload"), raw("img/u-boot"), raw("etc/ps2-keyboard-spinup")}, "SeaBIOS", "SeaBIOS,U-Boot"},
		{[]cbfsFile{raw("fallback/payload")}, "unknown", "unknown"},
		{nil, "", ""},
	}
	for _, c := range cases {
		img := openT(t, build(t, spec{size: 1 << 20, noFiller: true, config: x200Config, files: c.files}))
		cb := img.Coreboot()
		if cb.Payload != c.def || strings.Join(cb.Payloads, ",") != c.all {
			t.Errorf("%v: payload %q %v, want %q %q", c.files, cb.Payload, cb.Payloads, c.def, c.all)
		}
	}
}

func TestTextFacts(t *testing.T) {
	t.Parallel()
	buildH := "#ifndef __BUILD_H\n#define __BUILD_H\n\n#define COREBOOT_VERSION \"25.06-libreboot-20250612\"\n#define COREBOOT_EXTRA_VERSION \"\"\n#define COREBOOT_MAJOR_VERSION 25\n#define COREBOOT_BUILD \"Thu Jun 12 00:00:00 UTC 2025\"\n#endif\n"
	if v := versionFrom(textFacts([]byte(buildH))); v != "25.06-libreboot-20250612" {
		t.Errorf("build.h version %q", v)
	}
	info := "COREBOOT_VERSION: 4.22\nMAINBOARD_VENDOR: Lenovo\nMAINBOARD_PART_NUMBER: ThinkPad T440p\n"
	if v := versionFrom(textFacts([]byte(info))); v != "4.22" {
		t.Errorf("build_info version %q", v)
	}
	// build_info names the board when the config cannot be read.
	img := openT(t, build(t, spec{size: 4 << 20, files: []cbfsFile{{name: "build_info", typ: "raw", data: []byte(info)}}}))
	cb := img.Coreboot()
	if cb.Board.String() != "Lenovo ThinkPad T440p" || cb.Version != "4.22" {
		t.Errorf("board %q version %q", cb.Board, cb.Version)
	}
	if MatchBoard(cb.Board, machine("lenovo-t440p-factory")) != BoardMatches {
		t.Error("T440p build_info does not match T440p DMI")
	}
}

func TestMatchBoard(t *testing.T) {
	t.Parallel()
	cases := []struct {
		board Board
		m     Machine
		want  BoardMatch
	}{
		{Board{Vendor: "APPLE", Part: "MACBOOK21", Kconfig: "BOARD_APPLE_MACBOOK21"}, Machine{SysVendor: "Apple Inc.", ProductName: "MacBook2,1"}, BoardMatches},
		{Board{Vendor: "ASUS", Part: "KGPE D16", Kconfig: "BOARD_ASUS_KGPE_D16"}, Machine{BoardVendor: "ASUSTeK COMPUTER INC.", BoardName: "KGPE-D16"}, BoardMatches},
		{Board{Vendor: "GIGABYTE", Part: "GA G41M ES2L", Kconfig: "BOARD_GIGABYTE_GA_G41M_ES2L"}, Machine{SysVendor: "Gigabyte Technology Co., Ltd.", ProductName: "G41M-ES2L"}, BoardMatches},
		{Board{Vendor: "LENOVO", Part: "X230", Kconfig: "BOARD_LENOVO_X230"}, Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad X230T"}, BoardVariant},
		{Board{Vendor: "LENOVO", Part: "T400", Kconfig: "BOARD_LENOVO_T400"}, Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad T500"}, BoardMismatch},
		{Board{Vendor: "LENOVO", Part: "T60", Kconfig: "BOARD_LENOVO_T60"}, Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad X60"}, BoardMismatch},
		{Board{Vendor: "DELL", Part: "E6400", Kconfig: "BOARD_DELL_E6400"}, Machine{SysVendor: "LENOVO", ProductName: "Latitude E6400"}, BoardMismatch},
		{Board{Vendor: "LENOVO"}, Machine{SysVendor: "LENOVO", ProductName: "x"}, BoardUnknown},
	}
	for _, c := range cases {
		if got := MatchBoard(c.board, &c.m); got != c.want {
			t.Errorf("%v vs %+v: %d, want %d", c.board, c.m, got, c.want)
		}
	}
}

func TestGbEMissing(t *testing.T) {
	t.Parallel()
	// The X230 config asks for a GbE region; without a descriptor there is none.
	r := Check(openT(t, build(t, spec{size: 4 << 20, config: x230Config})), CheckOptions{})
	v := wantStatus(t, r, "mac", Warn)
	if !strings.Contains(v.Summary, "GbE region") {
		t.Errorf("summary %q", v.Summary)
	}
	// Nothing asks for one: no verdict at all.
	r = Check(openT(t, build(t, spec{size: 4 << 20, config: x200Config})), CheckOptions{})
	if _, ok := r.Get("mac"); ok {
		t.Error("mac verdict without a GbE region or config asking for one")
	}
}
