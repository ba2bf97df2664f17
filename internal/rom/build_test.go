package rom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Test images are built the way coreboot builds them: fmaptool compiles a
// flash layout, cbfstool creates the image and adds files. The descriptor and
// GbE region are written byte by byte here and cross-checked with ifdtool.

// tool finds a coreboot-utils program; Debian installs them in /usr/sbin.
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := "/usr/sbin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found: install coreboot-utils (scripts/test.sh does)", name)
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool(t, name), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// cbfsFile is a file to add with cbfstool.
type cbfsFile struct {
	name, typ string
	data      []byte
	lzma, lz4 bool
}

// spec describes a test image.
type spec struct {
	size int64
	// ifd: write an Intel descriptor with GbE (8 KiB), ME and BIOS regions;
	// the BIOS region is the top biosSize bytes (default: half the image).
	ifd      bool
	biosSize int64
	flmstr1  uint32 // host master access; 0 means full access
	meBlank  bool   // leave the ME region erased
	mac      []byte // GbE MAC; nil: a real-looking one
	config   string // CBFS config file ("" = none)
	// configLZMA stores config LZMA-compressed, as coreboot's build does
	// on x86 (config-compression := $(CBFS_COMPRESS_FLAG)).
	configLZMA bool
	files      []cbfsFile
	legacy     bool // cbfstool create -m x86 without a flash map
	noFiller   bool // no payload: nearly empty image
	// noReset leaves the top of the image erased, as without a bootblock.
	noReset bool
}

// resetVector stands in for the bootblock's code at the top of an x86
// image (a far jump; cbfstool adds no bootblock by itself).
var resetVector = []byte{0xea, 0x5b, 0xe0, 0x00, 0xf0, 0x90, 0x90, 0x90}

const testMAC = "\x00\x16\xd3\x12\x34\x56"

// filler is deterministic incompressible data standing in for code.
func filler(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// build makes the image described by s in a temp dir and returns its path.
func build(t testing.TB, s spec) string {
	t.Helper()
	dir := t.TempDir()
	rom := filepath.Join(dir, "coreboot.rom")
	bios := s.biosSize
	if bios == 0 {
		bios = s.size / 2
	}
	if s.legacy {
		run(t, "cbfstool", rom, "create", "-m", "x86", "-s", fmt.Sprint(s.size))
	} else {
		var fmd string
		if s.ifd {
			fmd = fmt.Sprintf(`FLASH@0 0x%x {
	SI_ALL@0 0x%x {
		SI_DESC@0 0x1000
		SI_GBE@0x1000 0x2000
		SI_ME@0x3000 0x%x
	}
	SI_BIOS@0x%x 0x%x {
		RW_MRC_CACHE@0 0x10000
		FMAP@0x10000 0x800
		COREBOOT(CBFS)@0x10800 0x%x
	}
}
`, s.size, s.size-bios, s.size-bios-0x3000, s.size-bios, bios, bios-0x10800)
		} else {
			fmd = fmt.Sprintf("FLASH@0 0x%x {\n\tBIOS@0 0x%x {\n\t\tFMAP@0 0x800\n\t\tCOREBOOT(CBFS)@0x800 0x%x\n\t}\n}\n", s.size, s.size, s.size-0x800)
		}
		os.WriteFile(filepath.Join(dir, "layout.fmd"), []byte(fmd), 0o644)
		run(t, "fmaptool", filepath.Join(dir, "layout.fmd"), filepath.Join(dir, "layout.fmap"))
		run(t, "cbfstool", rom, "create", "-M", filepath.Join(dir, "layout.fmap"))
	}
	files := s.files
	if s.config != "" {
		files = append([]cbfsFile{{name: "config", typ: "raw", data: []byte(s.config), lzma: s.configLZMA}}, files...)
	}
	if !s.noFiller {
		files = append(files, cbfsFile{name: "fallback/ramstage", typ: "raw", data: filler(192<<10, 1)})
	}
	for i, f := range files {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		os.WriteFile(p, f.data, 0o644)
		args := []string{rom, "add", "-f", p, "-n", f.name, "-t", f.typ}
		switch {
		case f.lzma:
			args = append(args, "-c", "lzma")
		case f.lz4:
			args = append(args, "-c", "lz4")
		}
		run(t, "cbfstool", args...)
	}
	data, err := os.ReadFile(rom)
	if err != nil {
		t.Fatal(err)
	}
	// A legacy image without bootblock keeps its master header up there.
	if !s.noReset && !s.legacy {
		copy(data[len(data)-16:], resetVector)
	}
	if s.ifd {
		flm := s.flmstr1
		if flm == 0 {
			flm = 0xffff0000
		}
		writeIFD(data, []region{{0, 0, 0xfff}, {1, s.size - bios, s.size - 1}, {2, 0x3000, s.size - bios - 1}, {3, 0x1000, 0x2fff}}, flm)
		if !s.meBlank {
			copy(data[0x3000:s.size-bios], filler(int(s.size-bios-0x3000), 2))
		}
		mac := s.mac
		if mac == nil {
			mac = []byte(testMAC)
		}
		writeGbE(data[0x1000:0x3000], mac)
	}
	if err := os.WriteFile(rom, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return rom
}

type region struct {
	index       int
	base, limit int64
}

// writeIFD writes an IFDv1 descriptor: signature at 0x10, FCBA 0x30, FRBA
// 0x40, FMBA 0x60, the given regions (others unused) and FLMSTR1.
func writeIFD(img []byte, regs []region, flmstr1 uint32) {
	le := binary.LittleEndian
	for i := 0; i < 0x1000; i++ {
		img[i] = 0xff
	}
	le.PutUint32(img[0x10:], ifdSignature)
	le.PutUint32(img[0x14:], 0x03|0x04<<16|4<<24) // FCBA 0x30, FRBA 0x40, NR 4
	le.PutUint32(img[0x18:], 0x06|2<<8|0x10<<16)  // FMBA 0x60, NM 2, FPSBA 0x100
	le.PutUint32(img[0x1c:], 0x20)                // FMSBA 0x200
	le.PutUint32(img[0x30:], 0x00000004)          // FLCOMP: 20 MHz read clock: IFDv1
	le.PutUint32(img[0xefc:], 0)                  // FLUMAP1: no VSCC table
	for i := 0; i < 5; i++ {
		le.PutUint32(img[0x40+4*i:], 0x00001fff) // unused
	}
	for _, r := range regs {
		le.PutUint32(img[0x40+4*r.index:], uint32(r.base>>12)&0x1fff|(uint32(r.limit>>12)&0x1fff)<<16)
	}
	le.PutUint32(img[0x60:], flmstr1)
	le.PutUint32(img[0x64:], 0x0c0d0000)
	le.PutUint32(img[0x68:], 0x08080118)
}

// writeGbE fills a GbE region: two parts with mac and a valid checksum.
func writeGbE(gbe []byte, mac []byte) {
	half := len(gbe) / 2
	for _, part := range [][]byte{gbe[:half], gbe[half:]} {
		copy(part, filler(128, 3))
		copy(part, mac)
		sum := uint16(0)
		for i := 0; i < 63; i++ {
			sum += binary.LittleEndian.Uint16(part[2*i:])
		}
		binary.LittleEndian.PutUint16(part[126:], 0xBABA-sum)
	}
}

func openT(t testing.TB, path string) *Image {
	t.Helper()
	img, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
