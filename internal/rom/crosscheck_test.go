package rom

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	ifdRegionRE = regexp.MustCompile(`(?m)^\s*Flash Region (\d+) \(([^)]+)\): ([0-9a-f]{8}) - ([0-9a-f]{8})( \(unused\))?`)
	ifdMasterRE = regexp.MustCompile(`(?m)^FLMSTR1:\s+0x([0-9a-f]{8})`)
	ifdAccessRE = regexp.MustCompile(`(?m)^\s+(.+?) (Write|Read) Access:\s+(enabled|disabled)`)
	cbfsLineRE  = regexp.MustCompile(`(?m)^(\S+)\s+(0x[0-9a-f]+)\s+(.+?)\s+(\d+)\s+(none|LZMA|LZ4)`)
)

// ifdtool's labels for the host master's rights on regions 0..4.
var ifdAccessLabels = []string{"Flash Descriptor", "Host CPU/BIOS Region", "Intel ME Region", "GbE Region", "Platform Data Region"}

// crossCheckIFD compares our parse of the descriptor with `ifdtool -d`.
func crossCheckIFD(t *testing.T, path string, d *Descriptor) {
	t.Helper()
	out := run(t, "ifdtool", "-d", path)
	ms := ifdRegionRE.FindAllStringSubmatch(out, -1)
	if len(ms) == 0 {
		t.Fatalf("ifdtool printed no regions:\n%s", out)
	}
	for _, m := range ms {
		i, _ := strconv.Atoi(m[1])
		if i >= len(d.Regions) {
			t.Errorf("ifdtool shows region %d, we parsed %d", i, len(d.Regions))
			continue
		}
		r := d.Regions[i]
		unused := m[5] != ""
		if r.Used == unused {
			t.Errorf("region %d (%s): used=%v, ifdtool unused=%v", i, m[2], r.Used, unused)
		}
		base, _ := strconv.ParseInt(m[3], 16, 64)
		limit, _ := strconv.ParseInt(m[4], 16, 64)
		if r.Used && (r.Base != base || r.Limit != limit) {
			t.Errorf("region %d (%s): 0x%x-0x%x, ifdtool 0x%x-0x%x", i, m[2], r.Base, r.Limit, base, limit)
		}
	}
	mm := ifdMasterRE.FindStringSubmatch(out)
	if mm == nil {
		t.Fatalf("ifdtool printed no FLMSTR1")
	}
	if v, _ := strconv.ParseUint(mm[1], 16, 32); uint32(v) != d.FLMSTR1 {
		t.Errorf("FLMSTR1 0x%08x, ifdtool 0x%08x", d.FLMSTR1, v)
	}
	// The first block of access lines after FLMSTR1 is the host's.
	host := out[strings.Index(out, "FLMSTR1:"):]
	if i := strings.Index(host, "FLMSTR2:"); i > 0 {
		host = host[:i]
	}
	seen := 0
	for _, a := range ifdAccessRE.FindAllStringSubmatch(host, -1) {
		for i, label := range ifdAccessLabels {
			if a[1] != label {
				continue
			}
			seen++
			got := d.Regions[i].HostWrite
			if a[2] == "Read" {
				got = d.Regions[i].HostRead
			}
			if got != (a[3] == "enabled") {
				t.Errorf("host %s access to %s: %v, ifdtool %s", a[2], label, got, a[3])
			}
		}
	}
	if seen != 10 {
		t.Errorf("matched %d host access lines of ifdtool, want 10:\n%s", seen, host)
	}
}

// crossCheckCBFS compares our file list with `cbfstool print`.
func crossCheckCBFS(t *testing.T, path string, c *CBFS) {
	t.Helper()
	out := run(t, "cbfstool", path, "print")
	ms := cbfsLineRE.FindAllStringSubmatch(out, -1)
	if len(ms) != len(c.Files) {
		t.Fatalf("%d files, cbfstool lists %d:\n%s", len(c.Files), len(ms), out)
	}
	for i, m := range ms {
		f := c.Files[i]
		off, _ := strconv.ParseInt(m[2], 0, 64)
		size, _ := strconv.ParseInt(m[4], 10, 64)
		if f.Name != m[1] || f.Offset != off || f.Type != m[3] || f.Size != size || f.Compression != m[5] {
			t.Errorf("file %d: %s 0x%x %s %d %s; cbfstool: %s %s %s %s %s", i, f.Name, f.Offset, f.Type, f.Size, f.Compression, m[1], m[2], m[3], m[4], m[5])
		}
	}
}

func TestDescriptorMatchesIfdtool(t *testing.T) {
	t.Parallel()
	for _, flm := range []uint32{0xffff0000, 0x0a0b0000, 0x1a1b0000} {
		path := build(t, spec{size: 4 << 20, ifd: true, config: x230Config, flmstr1: flm})
		crossCheckIFD(t, path, openT(t, path).IFD)
	}
}

func TestCBFSMatchesCbfstool(t *testing.T) {
	t.Parallel()
	path := build(t, spec{size: 8 << 20, ifd: true, config: x230Config, files: []cbfsFile{
		{name: "fallback/payload", typ: "raw", data: []byte(strings.Repeat("GRUB payload ", 5000)), lzma: true},
		{name: "mrc.bin", typ: "mrc", data: filler(3000, 9)},
		{name: "img/grub2", typ: "raw", data: filler(777, 10)},
		{name: "etc/ps2-keyboard-spinup", typ: "raw", data: []byte("3000")},
	}})
	img := openT(t, path)
	if img.CBFS == nil || img.CBFS.Source != "fmap:COREBOOT" {
		t.Fatalf("cbfs %+v", img.CBFS)
	}
	crossCheckCBFS(t, path, img.CBFS)
	f, _ := img.CBFS.File("fallback/payload")
	if f.Compression != "LZMA" || f.RawSize != 65000 {
		t.Errorf("payload %+v", f)
	}
	if a, ok := img.FMAP.Area("COREBOOT"); !ok || a.Offset != img.CBFS.Offset {
		t.Errorf("COREBOOT area %+v", a)
	}
}

// The ICH8 layout keeps the signature at 0x0, FLMAP0..2 right after it.
func TestDescriptorICH8Position(t *testing.T) {
	t.Parallel()
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = 0xff
	}
	writeIFD(data, []region{{0, 0, 0xfff}, {1, 0x100000, 0x1fffff}, {3, 0x1000, 0x2fff}}, 0xffff0000)
	copy(data[0:16], data[0x10:0x20])
	for i := 16; i < 0x20; i++ {
		data[i] = 0xff
	}
	d := parseDescriptor(data)
	if d == nil || d.Offset != 0 || len(d.Problems) > 0 {
		t.Fatalf("%+v", d)
	}
	if b, ok := d.Region("bios"); !ok || b.Base != 0x100000 || b.Limit != 0x1fffff {
		t.Errorf("bios %+v", b)
	}
	if _, ok := d.Region("me"); ok {
		t.Error("unused ME region reported as used")
	}
}

func BenchmarkCheck16MiB(b *testing.B) {
	img := openT(b, build(b, spec{size: 16 << 20, ifd: true, config: x230Config}))
	m := &Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad X230"}
	b.SetBytes(img.Size())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Check(Parse(img.Path, img.Bytes()), CheckOptions{ChipSize: 16 << 20, Machine: m})
	}
}
