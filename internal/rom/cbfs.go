package rom

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// CBFS is the coreboot file system of the image (the FMAP's COREBOOT area,
// or a legacy image found through its master header).
type CBFS struct {
	Offset int64  `json:"offset"` // of the CBFS area in the image
	Size   int64  `json:"size"`
	Source string `json:"source"` // "fmap:COREBOOT" or "master header"
	// Arch is the master header's architecture ("x86", "arm", …); empty
	// when the image has no master header.
	Arch   string   `json:"arch,omitempty"`
	Files  []File   `json:"files"`
	Issues []string `json:"problems,omitempty"`
	data   []byte
}

// File is one CBFS entry. Offset is of its header, relative to the CBFS
// area, as `cbfstool print` shows it.
type File struct {
	Name        string `json:"name"`
	Offset      int64  `json:"offset"`
	Type        string `json:"type"`
	TypeID      uint32 `json:"type_id"`
	Size        int64  `json:"size"`
	Compression string `json:"compression"` // none, LZMA, LZ4
	RawSize     int64  `json:"decompressed_size,omitempty"`
	dataOff     int64
}

// File returns the file called name.
func (c *CBFS) File(name string) (File, bool) {
	if c == nil {
		return File{}, false
	}
	for _, f := range c.Files {
		if f.Name == name {
			return f, true
		}
	}
	return File{}, false
}

// Data returns the stored bytes of f (still compressed if it is).
func (c *CBFS) Data(f File) []byte {
	return c.data[f.dataOff : f.dataOff+f.Size]
}

const (
	cbfsAlign       = 64
	cbfsHeaderLen   = 24
	cbfsMaxFiles    = 4096
	cbfsMasterMagic = 0x4F524243 // "ORBC"
	cbfsTypeNull    = 0xffffffff
	attrCompression = 0x42435a4c // "BCZL"
)

var cbfsFileMagic = []byte("LARCHIVE")

var cbfsTypes = map[uint32]string{
	0x00: "deleted", 0x01: "bootblock", 0x02: "cbfs header", 0x10: "stage", 0x11: "stage",
	0x20: "simple elf", 0x21: "fit_payload", 0x30: "optionrom", 0x40: "bootsplash",
	0x50: "raw", 0x51: "vsa", 0x52: "mbi", 0x53: "microcode", 0x60: "fsp", 0x61: "mrc",
	0x62: "mma", 0x63: "efi", 0x70: "struct", 0xaa: "cmos_default", 0xab: "spd",
	0xac: "mrc_cache", 0x1aa: "cmos_layout", cbfsTypeNull: "null",
}

var compressionNames = map[uint32]string{0: "none", 1: "LZMA", 2: "LZ4"}

// findCBFS locates the CBFS: the FMAP's COREBOOT area when there is a flash
// map, else the legacy master header whose pointer ends an x86 image.
func findCBFS(data []byte, fm *FMAP) *CBFS {
	if a, ok := fm.Area("COREBOOT"); ok {
		if a.Offset+a.Size > int64(len(data)) {
			c := &CBFS{Offset: a.Offset, Size: a.Size, Source: "fmap:COREBOOT"}
			c.Issues = append(c.Issues, fmt.Sprintf("the COREBOOT area (0x%x+0x%x) ends beyond the image (%d bytes): truncated?", a.Offset, a.Size, len(data)))
			return c
		}
		c := walkCBFS(data[a.Offset:a.Offset+a.Size], a.Offset, "fmap:COREBOOT")
		// x86 builds keep a copy of the master header as a file.
		if f, ok := c.File("cbfs master header"); ok && f.Size >= 32 {
			if h := c.Data(f); binary.BigEndian.Uint32(h) == cbfsMasterMagic {
				c.Arch = cbfsArch(binary.BigEndian.Uint32(h[24:]))
			}
		}
		return c
	}
	if len(data) < 64 {
		return nil
	}
	be := binary.BigEndian
	// The last word is the header's address: on x86 a negative offset from
	// the top of the 4 GiB address space, that is from the image's end.
	p := int64(int32(binary.LittleEndian.Uint32(data[len(data)-4:])))
	if p < 0 {
		p += int64(len(data))
	}
	if p < 0 || p+32 > int64(len(data)) || be.Uint32(data[p:]) != cbfsMasterMagic {
		return nil
	}
	romSize, off := int64(be.Uint32(data[p+8:])), int64(be.Uint32(data[p+20:]))
	end := min(romSize, int64(len(data)))
	if off >= end {
		return nil
	}
	c := walkCBFS(data[off:end], off, "master header")
	c.Arch = cbfsArch(be.Uint32(data[p+24:]))
	if romSize != int64(len(data)) {
		c.Issues = append(c.Issues, fmt.Sprintf("the CBFS master header describes a %d-byte image but the image is %d bytes", romSize, len(data)))
	}
	return c
}

// walkCBFS lists the files in area (at offset base in the image). Headers
// are 64-byte aligned; where there is none, it looks for the next one.
func walkCBFS(area []byte, base int64, source string) *CBFS {
	c := &CBFS{Offset: base, Size: int64(len(area)), Source: source, data: area}
	be := binary.BigEndian
	pos := 0
	for pos+cbfsHeaderLen <= len(area) {
		if !bytes.Equal(area[pos:pos+8], cbfsFileMagic) {
			i := bytes.Index(area[pos+1:], cbfsFileMagic)
			if i < 0 {
				break
			}
			pos = alignUp(pos+1+i, cbfsAlign)
			continue
		}
		if len(c.Files) == cbfsMaxFiles {
			c.Issues = append(c.Issues, fmt.Sprintf("more than %d files; the rest were not read", cbfsMaxFiles))
			break
		}
		h := area[pos:]
		length, typ := int64(be.Uint32(h[8:])), be.Uint32(h[12:])
		attrOff, dataOff := int(be.Uint32(h[16:])), int(be.Uint32(h[20:]))
		if dataOff < cbfsHeaderLen || int64(pos)+int64(dataOff) > int64(len(area)) {
			c.Issues = append(c.Issues, fmt.Sprintf("file header at 0x%x has a bad data offset 0x%x", pos, dataOff))
			pos += cbfsAlign
			continue
		}
		nameEnd := dataOff
		if attrOff >= cbfsHeaderLen && attrOff < dataOff {
			nameEnd = attrOff
		}
		name := h[cbfsHeaderLen:nameEnd]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		f := File{Name: string(name), Offset: int64(pos), TypeID: typ, Size: length,
			Compression: "none", dataOff: int64(pos) + int64(dataOff)}
		if typ == cbfsTypeNull {
			f.Name = "(empty)"
		}
		f.Type = cbfsTypes[typ]
		if f.Type == "" {
			f.Type = fmt.Sprintf("0x%x", typ)
		}
		if attrOff >= cbfsHeaderLen && attrOff < dataOff {
			parseAttrs(h[attrOff:dataOff], &f)
		}
		if f.dataOff+length > int64(len(area)) {
			c.Issues = append(c.Issues, fmt.Sprintf("file %q (%d bytes at 0x%x) ends beyond the CBFS area: truncated image?", f.Name, length, pos))
			f.Size = int64(len(area)) - f.dataOff
			c.Files = append(c.Files, f)
			break
		}
		c.Files = append(c.Files, f)
		pos = alignUp(int(f.dataOff+length), cbfsAlign)
	}
	return c
}

// parseAttrs reads the attributes between the name and the data; only
// compression matters here.
func parseAttrs(b []byte, f *File) {
	be := binary.BigEndian
	for len(b) >= 8 {
		tag, n := be.Uint32(b), int(be.Uint32(b[4:]))
		if tag == 0 || tag == 0xffffffff || n < 8 || n > len(b) {
			return
		}
		if tag == attrCompression && n >= 16 {
			algo := be.Uint32(b[8:])
			f.Compression = compressionNames[algo]
			if f.Compression == "" {
				f.Compression = fmt.Sprintf("unknown (%d)", algo)
			}
			f.RawSize = int64(be.Uint32(b[12:]))
		}
		b = b[n:]
	}
}

func cbfsArch(v uint32) string {
	switch v {
	case 1:
		return "x86"
	case 0x10:
		return "arm"
	case 0xaa64:
		return "arm64"
	case 0xdc:
		return "riscv"
	case 0xffffffff:
		return ""
	}
	return fmt.Sprintf("0x%x", v)
}

func alignUp(v, a int) int { return (v + a - 1) / a * a }
