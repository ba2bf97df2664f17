package rom

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// withDefaults pads a test config with lines a real coreboot defconfig has,
// so that it is as long as a real one and cbfstool's compression pays off
// (cbfstool stores a file uncompressed when compressing does not shrink it).
func withDefaults(cfg string) string {
	return cfg + `CONFIG_USE_OPTION_TABLE=y
CONFIG_TIMESTAMPS_ON_CONSOLE=y
CONFIG_CBFS_SIZE=0x7e0000
CONFIG_DRIVERS_PS2_KEYBOARD=y
CONFIG_SMMSTORE=y
CONFIG_SMMSTORE_V2=y
CONFIG_LOCK_MANAGEMENT_ENGINE=y
CONFIG_POST_IO=n
# CONFIG_DEBUG_SMI is not set
# CONFIG_CONSOLE_SERIAL is not set
# CONFIG_CONSOLE_CBMEM_PRINT_PRE_BOOTBLOCK_CONTENTS is not set
# CONFIG_PAYLOAD_SEABIOS is not set
# CONFIG_PAYLOAD_NONE is not set
# CONFIG_PAYLOAD_LINUX is not set
# CONFIG_PAYLOAD_DEPTHCHARGE is not set
# CONFIG_PAYLOAD_UBOOT is not set
# CONFIG_PAYLOAD_EDK2 is not set
# CONFIG_PAYLOAD_BOOTBOOT is not set
# CONFIG_PAYLOAD_FILO is not set
# CONFIG_PAYLOAD_GRUB2 is not set
# CONFIG_PAYLOAD_LINUXBOOT is not set
# CONFIG_PAYLOAD_SKIBOOT is not set
`
}

// cbfsExtract is what cbfstool itself decompresses.
func cbfsExtract(t *testing.T, path, name string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "extracted")
	run(t, "cbfstool", path, "extract", "-n", name, "-f", out, "-m", "x86")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCompressedConfig(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		s    spec
	}{
		{"lzma", spec{size: 4 << 20, ifd: true, config: withDefaults(t440pConfig), configLZMA: true}},
		{"lz4", spec{size: 4 << 20, ifd: true, files: []cbfsFile{{name: "config", typ: "raw", data: []byte(withDefaults(t440pConfig)), lz4: true}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := build(t, c.s)
			img := openT(t, path)
			f, _ := img.CBFS.File("config")
			if want := strings.ToUpper(c.name); f.Compression != want {
				t.Fatalf("config stored %s, want %s: cbfstool did not compress it", f.Compression, want)
			}
			got, err := img.CBFS.ReadFile(f, maxTextFile)
			if err != nil {
				t.Fatal(err)
			}
			if want := cbfsExtract(t, path, "config"); !bytes.Equal(got, want) {
				t.Errorf("decompressed %d bytes differ from cbfstool extract's %d", len(got), len(want))
			}
			r := Check(img, CheckOptions{Machine: machine("lenovo-t440p-factory")})
			if r.Coreboot.Config["HAVE_MRC"] != "y" || r.Coreboot.ConfigNote != "" {
				t.Errorf("config %v, note %q", r.Coreboot.Config, r.Coreboot.ConfigNote)
			}
			wantStatus(t, r, "board", Pass)
			v := wantStatus(t, r, "vendor_files", Fail)
			if !strings.Contains(v.Summary, "mrc.bin") {
				t.Errorf("vendor files: %q", v.Summary)
			}
		})
	}
	t.Run("revision", func(t *testing.T) {
		t.Parallel()
		rev := "COREBOOT_VERSION: 25.06-libreboot\n" + strings.Repeat("COREBOOT_EXTRA_VERSION: \n", 20)
		r := Check(openT(t, build(t, spec{size: 4 << 20, config: withDefaults(x230Config), configLZMA: true, files: []cbfsFile{
			{name: "revision", typ: "raw", data: []byte(rev), lzma: true},
		}})), CheckOptions{})
		if r.Coreboot.Version != "25.06-libreboot" || len(r.Coreboot.Unreadable) > 0 {
			t.Errorf("version %q, unreadable %v", r.Coreboot.Version, r.Coreboot.Unreadable)
		}
		if b := r.Coreboot.Board; b.Kconfig != "BOARD_LENOVO_X230" {
			t.Errorf("board %+v", b)
		}
	})
}

// stored is where the config file lies in an image.
type stored struct {
	stream    []byte // the stored (compressed) bytes
	lengthAt  int    // the file header's length field
	rawSizeAt int    // the compression attribute's decompressed size
}

func configData(t *testing.T, data []byte) stored {
	t.Helper()
	c := Parse("t", data).CBFS
	f, ok := c.File("config")
	if !ok || f.Compression != "LZMA" {
		t.Fatalf("config %+v", f)
	}
	start := int(c.Offset + f.dataOff)
	attr := bytes.Index(data[int(c.Offset+f.Offset):start], []byte("BCZL"))
	if attr < 0 {
		t.Fatal("no compression attribute")
	}
	hdr := int(c.Offset + f.Offset)
	return stored{data[start : start+int(f.Size)], hdr + 8, hdr + attr + 12}
}

// Damaged compressed data leaves the config unread, with the reason, and
// the checks that need it warn or skip: no crash, no guess.
func TestCorruptCompressedConfig(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(build(t, spec{size: 4 << 20, config: withDefaults(x230Config), configLZMA: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		damage     func(d []byte, s stored)
	}{
		{"truncated", "truncated or corrupt", func(d []byte, s stored) {
			clear(s.stream[len(s.stream)/2:]) // the end of the stream erased
		}},
		{"header-only", "truncated or corrupt", func(d []byte, s stored) {
			// the CBFS file cut to the 13-byte LZMA header
			binary.BigEndian.PutUint32(d[s.lengthAt:], lzmaHeaderLen)
		}},
		{"short-header", "shorter than its header", func(d []byte, s stored) {
			binary.BigEndian.PutUint32(d[s.lengthAt:], 7)
		}},
		{"bad-properties", "corrupt", func(d []byte, s stored) { s.stream[0] = 0xff }},
		{"size-mismatch", "not the", func(d []byte, s stored) {
			binary.BigEndian.PutUint32(d[s.rawSizeAt:], binary.BigEndian.Uint32(d[s.rawSizeAt:])+1)
		}},
		{"garbage", "", func(d []byte, s stored) {
			copy(s.stream[lzmaHeaderLen:], filler(len(s.stream)-lzmaHeaderLen, 11))
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			data := bytes.Clone(good)
			c.damage(data, configData(t, data))
			r := Check(Parse("damaged", data), CheckOptions{Machine: machine("lenovo-x230-factory")})
			note := r.Coreboot.ConfigNote
			if r.Coreboot.Config != nil || !strings.Contains(note, "config file is unreadable") || !strings.Contains(note, c.want) {
				t.Errorf("config %v, note %q (want %q)", r.Coreboot.Config, note, c.want)
			}
			if len(r.Coreboot.Unreadable) != 1 || r.Coreboot.Unreadable[0] != "config" {
				t.Errorf("unreadable %v", r.Coreboot.Unreadable)
			}
			v := wantStatus(t, r, "board", Warn)
			if !strings.Contains(v.Summary, note) {
				t.Errorf("board summary %q does not say why", v.Summary)
			}
			wantStatus(t, r, "vendor_files", Skip)
		})
	}
}

// An LZMA bomb: 4 MiB of zeros, compressed by cbfstool to a few KiB, as
// the config. Its declared size is refused before anything is allocated
// for it. Not parallel: it measures the heap.
func TestLZMABomb(t *testing.T) {
	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros")
	if err := os.WriteFile(zeros, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	path := build(t, spec{size: 1 << 20, noFiller: true})
	run(t, "cbfstool", path, "add", "-f", zeros, "-n", "config", "-t", "raw", "-c", "lzma")
	img := openT(t, path)
	f, _ := img.CBFS.File("config")
	if f.Compression != "LZMA" || f.RawSize != 4<<20 || f.Size > 64<<10 {
		t.Fatalf("bomb %+v", f)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := img.CBFS.ReadFile(f, maxTextFile)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "declares 4194304 bytes decompressed") {
		t.Errorf("bomb: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("refusing the bomb allocated %d bytes", n)
	}
	// The same stream with the attribute lying about its size: the LZMA
	// header's own size is checked too.
	data := bytes.Clone(img.Bytes())
	binary.BigEndian.PutUint32(data[configData(t, data).rawSizeAt:], 1000)
	c := Parse("liar", data).CBFS
	f, _ = c.File("config")
	runtime.ReadMemStats(&before)
	_, err = c.ReadFile(f, maxTextFile)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "LZMA header declares 4194304 bytes") {
		t.Errorf("lying bomb: %v", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("refusing the lying bomb allocated %d bytes", n)
	}
	r := Check(img, CheckOptions{})
	if !strings.Contains(r.Coreboot.ConfigNote, "unreadable") {
		t.Errorf("note %q", r.Coreboot.ConfigNote)
	}
}
