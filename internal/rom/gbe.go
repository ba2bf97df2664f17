package rom

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The Intel GbE NVM (the descriptor's GbE region) keeps two copies of its
// settings, "parts", one in each half of the region. Each starts with the
// MAC address (three little-endian words) and is valid when its first
// nvmWords words add up to nvmChecksum; word nvmChecksumWord is the one
// adjusted to make them. Libreboot's nvmutil works the same way.
const (
	nvmWords        = 64
	nvmChecksumWord = 0x3F
	nvmChecksum     = 0xBABA
)

// MAC modes of SetMAC's callers (install --mac).
const (
	MACAuto   = ""       // this machine's MAC from the backup, when the image's differs
	MACKeep   = "keep"   // leave the image's GbE region as it is
	MACRandom = "random" // a random, locally administered, unicast address
)

// HardwareAddr is a six-byte Ethernet address.
type HardwareAddr [6]byte

func (a HardwareAddr) String() string { return fmtMAC(a[:]) }

// ParseMAC reads "00:1f:16:aa:bb:cc" (or with dashes). It refuses a
// multicast address, the all-zero one and Libreboot's placeholder: none of
// them is a machine's own.
func ParseMAC(s string) (HardwareAddr, error) {
	var a HardwareAddr
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == '-' })
	if len(f) != 6 {
		return a, fmt.Errorf("%q is not a MAC address (six hex bytes, as 00:1f:16:aa:bb:cc)", s)
	}
	for i, x := range f {
		var b byte
		if len(x) != 2 {
			return a, fmt.Errorf("%q is not a MAC address (six hex bytes, as 00:1f:16:aa:bb:cc)", s)
		}
		if _, err := fmt.Sscanf(x, "%02x", &b); err != nil {
			return a, fmt.Errorf("%q is not a MAC address (six hex bytes, as 00:1f:16:aa:bb:cc)", s)
		}
		a[i] = b
	}
	switch {
	case a[0]&1 == 1:
		return a, fmt.Errorf("%s is a multicast address; a network card needs a unicast one", a)
	case a == HardwareAddr{}:
		return a, fmt.Errorf("%s is not a usable address", a)
	case bytes.Equal(a[:], PlaceholderMAC):
		return a, fmt.Errorf("%s is Libreboot's placeholder address, shared by every release image", a)
	}
	return a, nil
}

// RandomMAC returns a random locally administered unicast address, as
// nvmutil's setmac does without an argument.
func RandomMAC() (HardwareAddr, error) {
	var a HardwareAddr
	if _, err := rand.Read(a[:]); err != nil {
		return a, err
	}
	a[0] = a[0]&0xFC | 0x02 // unicast, locally administered
	return a, nil
}

// GbE is an image's GbE region as the MAC code sees it.
type GbE struct {
	Base, Size int64
	// Parts are the two NVM copies: their MAC and whether each checksum holds.
	Parts [2]GbEPart
}

// GbEPart is one NVM copy.
type GbEPart struct {
	MAC        HardwareAddr
	ChecksumOK bool
}

// MAC is the address the network card uses: that of the first part with a
// valid checksum; ok is false when neither is valid.
func (g *GbE) MAC() (a HardwareAddr, ok bool) {
	for _, p := range g.Parts {
		if p.ChecksumOK {
			return p.MAC, true
		}
	}
	return a, false
}

// ReadGbE finds and reads the GbE region of an image; nil when the image
// has no usable one (no descriptor, no GbE region, or a blank one).
func ReadGbE(img *Image) *GbE {
	r, ok := img.IFD.Region("gbe")
	if !ok || r.Blank || r.Limit >= img.Size() || r.Size < 2*2*nvmWords {
		return nil
	}
	region := img.data[r.Base : r.Limit+1]
	g := &GbE{Base: r.Base, Size: r.Size}
	half := len(region) / 2
	for i, part := range [][]byte{region[:half], region[half:]} {
		copy(g.Parts[i].MAC[:], part[:6])
		g.Parts[i].ChecksumOK = nvmSum(part) == nvmChecksum
	}
	return g
}

func nvmSum(part []byte) uint16 {
	var sum uint16
	for i := 0; i < nvmWords; i++ {
		sum += binary.LittleEndian.Uint16(part[2*i:])
	}
	return sum
}

// ErrNoGbE: the image has no GbE region, so it carries no MAC address.
var ErrNoGbE = errors.New("the image has no GbE region")

// SetMAC returns a copy of the image's bytes with mac in every valid part
// of its GbE region, each part's checksum made right again. Parts whose
// checksum was already wrong are left alone (the card ignores them, and
// rewriting one would make garbage look valid); with no valid part it
// fails, since the result would not be used by the card either.
func SetMAC(img *Image, mac HardwareAddr) ([]byte, error) {
	g := ReadGbE(img)
	if g == nil {
		return nil, ErrNoGbE
	}
	if _, ok := g.MAC(); !ok {
		return nil, errors.New("the image's GbE region has no part with a valid checksum; repair it with nvmutil first")
	}
	out := bytes.Clone(img.data)
	region := out[g.Base : g.Base+g.Size]
	half := len(region) / 2
	for i, part := range [][]byte{region[:half], region[half:]} {
		if !g.Parts[i].ChecksumOK {
			continue
		}
		copy(part[:6], mac[:])
		binary.LittleEndian.PutUint16(part[2*nvmChecksumWord:], 0)
		binary.LittleEndian.PutUint16(part[2*nvmChecksumWord:], nvmChecksum-nvmSum(part))
	}
	return out, nil
}

// MACChange is what install does to the image's MAC address, for the plan.
type MACChange struct {
	// Mode is the --mac the user gave: auto (the default), keep, random or
	// the address.
	Mode string `json:"mode"`
	// From is the image's address; To the one written ("" when unchanged).
	From string `json:"from"`
	To   string `json:"to,omitempty"`
	// Source says where To comes from: "backup" (this machine's own, read
	// from the verified backup), "user", "random"; Why explains a non-change.
	Source string `json:"source,omitempty"`
	Why    string `json:"why,omitempty"`
}

// Changed reports whether the image's bytes change.
func (c *MACChange) Changed() bool { return c != nil && c.To != "" }

// PlanMAC decides the address the written image carries, and returns the
// bytes to write (the image's own when nothing changes). mode is MACAuto,
// MACKeep, MACRandom or an address; machine is the chip's current
// contents (the verified backup), nil when unknown. An image without a GbE
// region is written as it is (nil change).
func PlanMAC(img *Image, machine *Image, mode string) ([]byte, *MACChange, error) {
	g := ReadGbE(img)
	if g == nil {
		if mode != MACAuto && mode != MACKeep {
			return nil, nil, fmt.Errorf("--mac %s: %w, so it has no MAC address to set", mode, ErrNoGbE)
		}
		return img.data, nil, nil
	}
	from, ok := g.MAC()
	if !ok {
		from = g.Parts[0].MAC
	}
	c := &MACChange{Mode: mode, From: from.String()}
	if mode == MACAuto {
		c.Mode = "auto"
	}
	var to HardwareAddr
	switch mode {
	case MACKeep:
		c.Why = "kept as in the image (--mac keep)"
		return img.data, c, nil
	case MACRandom:
		a, err := RandomMAC()
		if err != nil {
			return nil, nil, err
		}
		to, c.Source = a, "random"
	case MACAuto:
		var own HardwareAddr
		var have bool
		if machine != nil {
			if mg := ReadGbE(machine); mg != nil {
				own, have = mg.MAC()
				if have && (bytes.Equal(own[:], PlaceholderMAC) || own == HardwareAddr{}) {
					have = false
				}
			}
		}
		if !have {
			c.Why = "this machine's own MAC address could not be read from the backup (no GbE region with a valid checksum)"
			if bytes.Equal(from[:], PlaceholderMAC) {
				c.Why += "; the image keeps Libreboot's placeholder: give --mac with the address on the machine's label, or --mac random"
			}
			return img.data, c, nil
		}
		to, c.Source = own, "backup"
	default:
		a, err := ParseMAC(mode)
		if err != nil {
			return nil, nil, err
		}
		to, c.Source = a, "user"
	}
	if to == from && ok {
		c.Why = "the image already carries " + to.String()
		return img.data, c, nil
	}
	out, err := SetMAC(img, to)
	if err != nil {
		return nil, nil, err
	}
	c.To = to.String()
	return out, c, nil
}
