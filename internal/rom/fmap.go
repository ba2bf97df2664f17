package rom

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// FMAP is coreboot's flash map: named areas of the image.
type FMAP struct {
	Offset int64    `json:"offset"`
	Base   uint64   `json:"base"`
	Size   uint32   `json:"size"`
	Name   string   `json:"name"`
	Areas  []Area   `json:"areas"`
	Issues []string `json:"problems,omitempty"`
}

// Area is one FMAP area.
type Area struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	Flags  uint16 `json:"flags"`
}

// Area returns the area called name.
func (f *FMAP) Area(name string) (Area, bool) {
	if f == nil {
		return Area{}, false
	}
	for _, a := range f.Areas {
		if a.Name == name {
			return a, true
		}
	}
	return Area{}, false
}

const (
	fmapHeaderLen = 56
	fmapAreaLen   = 42
	// fmapMaxTries bounds how many "__FMAP__" strings are examined: code in
	// the image (coreboot's own FMAP lookup) contains the signature too.
	fmapMaxTries = 256
)

var fmapSignature = []byte("__FMAP__")

// findFMAP returns the first valid flash map in data, or nil.
func findFMAP(data []byte) *FMAP {
	pos := 0
	for try := 0; try < fmapMaxTries; try++ {
		i := bytes.Index(data[pos:], fmapSignature)
		if i < 0 {
			return nil
		}
		if f := parseFMAP(data, pos+i); f != nil {
			return f
		}
		pos += i + 1
	}
	return nil
}

// parseFMAP decodes the flash map whose signature is at off, or returns nil
// when it is not a plausible one (then it was a stray signature string).
func parseFMAP(data []byte, off int) *FMAP {
	le := binary.LittleEndian
	if off < 0 || off+fmapHeaderLen > len(data) {
		return nil
	}
	h := data[off:]
	if h[8] != 1 { // major version
		return nil
	}
	name, ok := cString(h[22:54])
	if !ok {
		return nil
	}
	f := &FMAP{Offset: int64(off), Base: le.Uint64(h[10:]), Size: le.Uint32(h[18:]), Name: name}
	n := int(le.Uint16(h[54:]))
	if n == 0 || off+fmapHeaderLen+n*fmapAreaLen > len(data) {
		return nil
	}
	for i := 0; i < n; i++ {
		a := h[fmapHeaderLen+i*fmapAreaLen:]
		an, ok := cString(a[8:40])
		if !ok {
			return nil
		}
		area := Area{Name: an, Offset: int64(le.Uint32(a)), Size: int64(le.Uint32(a[4:])), Flags: le.Uint16(a[40:])}
		if area.Offset+area.Size > int64(f.Size) {
			f.Issues = append(f.Issues, fmt.Sprintf("area %s (0x%x+0x%x) lies outside the flash map's size 0x%x", an, area.Offset, area.Size, f.Size))
		}
		f.Areas = append(f.Areas, area)
	}
	if int64(f.Size) != int64(len(data)) {
		f.Issues = append(f.Issues, fmt.Sprintf("the flash map describes a %d-byte flash but the image is %d bytes", f.Size, len(data)))
	}
	return f
}

// cString decodes a NUL-padded name of printable ASCII.
func cString(b []byte) (string, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) == 0 {
		return "", false
	}
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "", false
		}
	}
	return string(b), true
}
