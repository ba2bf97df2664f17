package rom

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// Seeds are real images from cbfstool and our descriptor writer, trimmed to
// the part each parser reads, plus a few hand-made edge cases.
func seedImage(f *testing.F) []byte {
	path := build(f, spec{size: 4 << 20, ifd: true, biosSize: 1 << 20, config: x230Config, files: []cbfsFile{
		{name: "fallback/payload", typ: "raw", data: []byte("payload payload payload"), lzma: true},
		{name: "mrc.bin", typ: "mrc", data: []byte("mrc")},
	}})
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// smallImage is a whole 8 KiB legacy CBFS image: big seeds make the
// fuzzer's minimisation crawl.
func smallImage(f *testing.F) []byte {
	data, err := os.ReadFile(build(f, spec{size: 8 << 10, legacy: true, noFiller: true, config: x200Config}))
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// compressedImage is smallImage with its config and revision compressed
// the way coreboot's build stores them (LZMA), and an LZ4 file.
func compressedImage(f *testing.F) []byte {
	data, err := os.ReadFile(build(f, spec{size: 8 << 10, legacy: true, noFiller: true, config: withDefaults(x200Config), configLZMA: true,
		files: []cbfsFile{
			{name: "revision", typ: "raw", data: []byte(strings.Repeat("COREBOOT_VERSION: 25.06\n", 8)), lzma: true},
			{name: "build_info", typ: "raw", data: []byte(strings.Repeat("MAINBOARD_VENDOR: LENOVO\n", 8)), lz4: true},
		}}))
	if err != nil {
		f.Fatal(err)
	}
	c := Parse("seed", data).CBFS
	for _, name := range []string{"config", "revision", "build_info"} {
		if file, _ := c.File(name); file.Compression == "none" {
			f.Fatalf("seed's %s is not compressed", name)
		}
	}
	return data
}

func FuzzDescriptor(f *testing.F) {
	img := seedImage(f)
	f.Add(img[:0x1000])
	f.Add(append(make([]byte, 0x10), 0x5a, 0xa5, 0xf0, 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))
	f.Add([]byte{0x5a, 0xa5, 0xf0, 0x0f, 0x03, 0x00, 0x04, 0x04, 0x06, 0x02, 0x10, 0x00, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := parseDescriptor(data)
		if d == nil {
			return
		}
		if len(d.Regions) > len(regionNames) {
			t.Fatalf("%d regions", len(d.Regions))
		}
		for _, r := range d.Regions {
			if r.Used && r.Limit < int64(len(data)) && r.Blank != uniform(data[r.Base:r.Limit+1]) {
				t.Fatal("blank flag wrong")
			}
		}
		d.HostLocked()
	})
}

func FuzzFMAP(f *testing.F) {
	img := seedImage(f)
	fm := findFMAP(img)
	if fm == nil {
		f.Fatal("seed image has no FMAP")
	}
	f.Add(img[fm.Offset : fm.Offset+0x200])
	f.Add([]byte("__FMAP__\x01\x01"))
	f.Add([]byte("__FMAP____FMAP__\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x00FLASH\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fm := findFMAP(data)
		if fm == nil {
			return
		}
		if len(fm.Areas)*fmapAreaLen > len(data) {
			t.Fatalf("%d areas from %d bytes", len(fm.Areas), len(data))
		}
		findCBFS(data, fm)
	})
}

func FuzzCBFS(f *testing.F) {
	img := seedImage(f)
	parsed := Parse("seed", img)
	c := parsed.CBFS
	if c == nil {
		f.Fatal("seed image has no CBFS")
	}
	f.Add(img[c.Offset : c.Offset+0x400])
	f.Add(smallImage(f))
	f.Add(compressedImage(f))
	f.Add([]byte("LARCHIVE\x00\x00\x00\x10\x00\x00\x00\x50\x00\x00\x00\x18\x00\x00\x00\x18"))
	f.Add([]byte("LARCHIVE\xff\xff\xff\xff\x00\x00\x00\x50\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []*CBFS{walkCBFS(data, 0, "fuzz"), findCBFS(data, nil)} {
			if c == nil {
				continue
			}
			if len(c.Files) > cbfsMaxFiles {
				t.Fatalf("%d files", len(c.Files))
			}
			for _, f := range c.Files {
				c.Data(f) // must stay in bounds
			}
			img := &Image{data: data, CBFS: c}
			img.Coreboot()
		}
	})
}

// FuzzCheck runs the whole pipeline on arbitrary bytes.
func FuzzCheck(f *testing.F) {
	f.Add(seedImage(f)[:0x1000])
	f.Add(smallImage(f))
	f.Add(compressedImage(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Check(Parse("fuzz", data), CheckOptions{ChipSize: int64(len(data)), Machine: &Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad X230"}})
		if r.OK != (r.Err() == nil) {
			t.Fatal("OK and Err disagree")
		}
	})
}

// FuzzDecompress feeds arbitrary stored bytes to the decoders, with the
// decompressed size the CBFS attribute would declare.
func FuzzDecompress(f *testing.F) {
	c := Parse("seed", compressedImage(f)).CBFS
	for _, name := range []string{"config", "build_info"} {
		file, _ := c.File(name)
		f.Add(file.Compression == "LZ4", uint32(file.RawSize), bytes.Clone(c.Data(file)))
	}
	f.Add(false, uint32(4<<20), []byte("\x5d\x00\x00\x40\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, lz4 bool, rawSize uint32, data []byte) {
		file := File{Compression: "LZMA", RawSize: int64(rawSize), Size: int64(len(data))}
		if lz4 {
			file.Compression = "LZ4"
		}
		const limit = 64 << 10
		out, err := (&CBFS{data: data}).ReadFile(file, limit)
		if err == nil && (len(out) > limit || int64(len(out)) != file.RawSize) {
			t.Fatalf("%d bytes out, %d declared, limit %d", len(out), file.RawSize, limit)
		}
	})
}
