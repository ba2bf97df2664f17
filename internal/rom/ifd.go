package rom

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// ifdSignature marks an Intel flash descriptor: at 0x10 since the ICH9/PCH
// era, at 0x0 on the older ICH8 layout.
const ifdSignature = 0x0FF0A55A

// descriptorSize is the descriptor region's minimum and the area in which
// all of its sections (FCBA, FRBA, FMBA) must lie.
const descriptorSize = 0x1000

// Region is one flash region from the descriptor. Base and Limit are byte
// offsets; Limit is inclusive, as the hardware and ifdtool print it.
type Region struct {
	Index int    `json:"index"`
	Name  string `json:"name"`  // flasher's --ifd name: fd, bios, me, gbe, pd, ec …
	Label string `json:"label"` // for people: "Intel ME"
	Base  int64  `json:"base"`
	Limit int64  `json:"limit"`
	Size  int64  `json:"size"`
	Used  bool   `json:"used"` // base <= limit
	// HostRead and HostWrite are the CPU/BIOS master's rights (FLMSTR1);
	// meaningful only when the descriptor's HostAccessKnown is true.
	HostRead  bool `json:"host_read"`
	HostWrite bool `json:"host_write"`
	// Blank: the region's bytes are all 0xFF or all 0x00 (no firmware in it).
	Blank bool `json:"blank"`
}

// Descriptor is a parsed Intel flash descriptor (IFD).
type Descriptor struct {
	Offset  int    `json:"offset"`  // where the signature is: 0x10, or 0x0 (ICH8)
	Version int    `json:"version"` // 1 (up to 9 series) or 2 (100 series and later)
	FLMAP0  uint32 `json:"flmap0"`
	FLMAP1  uint32 `json:"flmap1"`
	FCBA    int    `json:"fcba"`
	FRBA    int    `json:"frba"`
	FMBA    int    `json:"fmba"`
	NR      int    `json:"nr"`
	NM      int    `json:"nm"`
	// FLMSTR1 is the host CPU/BIOS master's access word.
	FLMSTR1         uint32   `json:"flmstr1"`
	HostAccessKnown bool     `json:"host_access_known"`
	Regions         []Region `json:"regions"`
	// Problems are what makes this descriptor unsafe to write: sections
	// outside the descriptor, regions outside the image or overlapping.
	Problems []string `json:"problems,omitempty"`
}

var regionNames = []struct{ name, label string }{
	{"fd", "Flash Descriptor"}, {"bios", "BIOS"}, {"me", "Intel ME"}, {"gbe", "GbE"},
	{"pd", "Platform Data"}, {"reg5", "Device Expansion"}, {"bios2", "Secondary BIOS"},
	{"reg7", "Reserved"}, {"ec", "EC/BMC"}, {"reg9", "Device Expansion 2"}, {"ie", "Innovation Engine"},
	{"10gbe0", "10GbE 0"}, {"10gbe1", "10GbE 1"}, {"reg13", "Reserved"}, {"reg14", "Reserved"}, {"ptt", "PTT"},
}

// Region returns the used region called name ("bios", "me", …).
func (d *Descriptor) Region(name string) (Region, bool) {
	if d == nil {
		return Region{}, false
	}
	for _, r := range d.Regions {
		if r.Name == name && r.Used {
			return r, true
		}
	}
	return Region{}, false
}

// HostLocked lists the used regions the host may not write (or read).
func (d *Descriptor) HostLocked() []string {
	if d == nil || !d.HostAccessKnown {
		return nil
	}
	var out []string
	for _, r := range d.Regions {
		if r.Used && (!r.HostWrite || !r.HostRead) {
			out = append(out, r.Name)
		}
	}
	return out
}

// parseDescriptor finds and decodes the descriptor. It returns nil when
// there is no signature; a signature with a broken descriptor behind it
// gives a Descriptor with Problems.
func parseDescriptor(data []byte) *Descriptor {
	le := binary.LittleEndian
	off := -1
	for _, o := range []int{0x10, 0x0} {
		if len(data) >= o+16 && le.Uint32(data[o:]) == ifdSignature {
			off = o
			break
		}
	}
	if off < 0 {
		return nil
	}
	d := &Descriptor{Offset: off, Version: 1}
	d.FLMAP0 = le.Uint32(data[off+4:])
	d.FLMAP1 = le.Uint32(data[off+8:])
	d.FCBA = int(d.FLMAP0&0xff) << 4
	d.FRBA = int(d.FLMAP0>>16&0xff) << 4
	d.NR = int(d.FLMAP0 >> 24 & 7)
	d.FMBA = int(d.FLMAP1&0xff) << 4
	d.NM = int(d.FLMAP1 >> 8 & 7)

	limit := min(descriptorSize, len(data))
	// The component section's read-clock field tells the generations apart,
	// as ifdtool does: 20 MHz on IFDv1, 17 or 50/30 MHz on IFDv2.
	if d.FCBA+4 <= limit && d.FCBA >= off+16 {
		switch le.Uint32(data[d.FCBA:]) >> 17 & 7 {
		case 4, 6:
			d.Version = 2
		}
	}
	nregions, mask := 5, uint32(0x1fff)
	if d.Version == 2 {
		nregions, mask = len(regionNames), 0x7fff
	}
	if d.FRBA < off+16 || d.FRBA+4*5 > limit {
		d.Problems = append(d.Problems, fmt.Sprintf("region section (FRBA 0x%x) lies outside the 4 KiB descriptor", d.FRBA))
		return d
	}
	size := int64(len(data))
	for i := 0; i < nregions && d.FRBA+4*i+4 <= limit; i++ {
		v := le.Uint32(data[d.FRBA+4*i:])
		baseF, limF := v&mask, v>>16&mask
		r := Region{Index: i, Name: regionNames[i].name, Label: regionNames[i].label,
			Base: int64(baseF) << 12, Limit: int64(limF)<<12 | 0xfff}
		// Unused: base above limit, or an all-ones base (erased entries).
		r.Used = r.Base <= r.Limit && baseF != mask
		if r.Used {
			r.Size = r.Limit - r.Base + 1
			if r.Limit >= size {
				d.Problems = append(d.Problems, fmt.Sprintf("%s region 0x%08x-0x%08x ends beyond the image (%d bytes)", r.Label, r.Base, r.Limit, size))
			} else {
				r.Blank = uniform(data[r.Base : r.Limit+1])
			}
		}
		d.Regions = append(d.Regions, r)
	}
	d.checkLayout()

	// FLMSTR1: the host CPU/BIOS master. IFDv1 keeps read bits at 16..23 and
	// write bits at 24..31; IFDv2 at 8..19 and 20..31.
	if d.FMBA >= off+16 && d.FMBA+4 <= limit {
		d.FLMSTR1 = le.Uint32(data[d.FMBA:])
		d.HostAccessKnown = true
		rd, wr, n := 16, 24, 8
		if d.Version == 2 {
			rd, wr, n = 8, 20, 12
		}
		for i := range d.Regions {
			if i < n {
				d.Regions[i].HostRead = d.FLMSTR1>>(rd+i)&1 == 1
				d.Regions[i].HostWrite = d.FLMSTR1>>(wr+i)&1 == 1
			}
		}
	} else {
		d.Problems = append(d.Problems, fmt.Sprintf("master section (FMBA 0x%x) lies outside the 4 KiB descriptor", d.FMBA))
	}
	return d
}

// checkLayout records overlapping regions and a descriptor region that does
// not hold the descriptor itself.
func (d *Descriptor) checkLayout() {
	var used []Region
	for _, r := range d.Regions {
		if r.Used {
			used = append(used, r)
		}
	}
	sort.Slice(used, func(i, j int) bool { return used[i].Base < used[j].Base })
	for i := 1; i < len(used); i++ {
		if a, b := used[i-1], used[i]; b.Base <= a.Limit {
			d.Problems = append(d.Problems, fmt.Sprintf("%s region 0x%08x-0x%08x overlaps %s region 0x%08x-0x%08x",
				a.Label, a.Base, a.Limit, b.Label, b.Base, b.Limit))
		}
	}
	if fd, ok := d.Region("fd"); !ok || fd.Base != 0 {
		d.Problems = append(d.Problems, "the descriptor region does not start at offset 0")
	}
	if _, ok := d.Region("bios"); !ok {
		d.Problems = append(d.Problems, "there is no BIOS region")
	}
}

// uniform reports whether b is all 0xFF or all 0x00: an erased or zeroed
// region with nothing in it.
func uniform(b []byte) bool {
	if len(b) == 0 {
		return true
	}
	c := b[0]
	if c != 0xff && c != 0 {
		return false
	}
	for _, x := range b {
		if x != c {
			return false
		}
	}
	return true
}
