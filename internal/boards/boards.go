// Package boards knows Libreboot's x86 boards: how to recognise each one
// from DMI, the size of its flash (one chip, or two chips read as one such
// as 8+4 MiB), and the route an internal install takes from the firmware
// that runs now — the vendor's or coreboot (Libreboot).
//
// The facts come from Libreboot's per-board install pages
// (https://libreboot.org/docs/install/); the table is data only, in
// table.go. What runs now is read by the caller (preflight's board check).
package boards

import (
	"fmt"
	"regexp"
	"strings"
)

// Route is how an internal install reaches the flash from the running
// firmware.
type Route string

const (
	// Direct: the flash is writable from the running OS (coreboot or
	// Libreboot already runs, or the vendor firmware does not protect it).
	Direct Route = "direct"
	// DellUnlock: Dell's BIOS protects the flash; dell-flash-unlock lifts
	// the protection across one power cycle (descriptor override, then
	// SMIs disabled for the write, re-enabled after).
	DellUnlock Route = "dell_unlock"
	// BIOSRegionOnly: only the BIOS region is writable; the install
	// writes it alone (--ifd -i bios) and the rest stays as it is.
	BIOSRegionOnly Route = "bios_region_only"
	// Jumper: a service/FDO jumper or the HDA_SDO strap must be set while
	// the machine powers on; the steps are in the board's Steps.
	Jumper Route = "jumper"
	// ExternalRequired: the vendor firmware cannot be replaced from the
	// running OS; an external programmer on the chip is the only way.
	ExternalRequired Route = "external_required"
)

// Routes lists every route, for validation and documentation.
var Routes = []Route{Direct, DellUnlock, BIOSRegionOnly, Jumper, ExternalRequired}

// Meaning says in one line what a route asks of the user.
func (r Route) Meaning() string {
	switch r {
	case Direct:
		return "the flash can be written from the running system"
	case DellUnlock:
		return "Dell's BIOS protects the flash; the dell-flash-unlock cycle (run, shut down, power on, run again) lifts it for the install"
	case BIOSRegionOnly:
		return "only the BIOS region can be written from the running system; the install writes that region alone"
	case Jumper:
		return "the flash is writable only after powering on with a service jumper or strap set"
	case ExternalRequired:
		return "the running firmware cannot be replaced from software; flash the chip with an external programmer"
	}
	return "unknown route"
}

// MiB is a mebibyte, the unit of flash sizes in the table.
const MiB = 1 << 20

// Layout is one way the board's flash is built: the chip sizes in bytes
// in address order ({8 MiB, 4 MiB} is a 12 MiB flash of two chips, the
// first chip holding the low 8 MiB).
type Layout []int64

// Total is the size the flasher sees.
func (l Layout) Total() int64 {
	var t int64
	for _, c := range l {
		t += c
	}
	return t
}

func (l Layout) String() string {
	if len(l) == 1 {
		return sizeString(l[0])
	}
	parts := make([]string, len(l))
	for i, c := range l {
		parts[i] = strings.TrimSuffix(sizeString(c), " MiB")
	}
	return fmt.Sprintf("%s MiB (%s MiB chips)", strings.TrimSuffix(sizeString(l.Total()), " MiB"), strings.Join(parts, "+"))
}

func sizeString(n int64) string {
	if n%MiB == 0 {
		return fmt.Sprintf("%d MiB", n/MiB)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// Board is one entry of the table.
type Board struct {
	// ID is a short stable name ("x200", "e6400").
	ID string
	// Name is the board as people call it.
	Name string
	// Vendor matches the DMI sys_vendor or board_vendor (regular
	// expression, case-insensitive, anchored).
	Vendor string
	// Product matches one of DMI product_name, product_version or
	// board_name (regular expression, case-insensitive, anchored): Lenovo
	// puts the model into product_version, Dell and HP into product_name,
	// desktop boards into board_name.
	Product string
	// Chipset is the platform, for messages ("GM45/ICH9M").
	Chipset string
	// Layouts are the flash configurations the docs name.
	Layouts []Layout
	// VendorFirmware names the factory firmware ("Lenovo BIOS").
	VendorFirmware string
	// Route is the route from the vendor firmware; from coreboot it is
	// Direct.
	Route Route
	// Steps are the docs' instructions for Route (the jumper to set, the
	// external flashing outline); empty for Direct.
	Steps []string
	// Notes are further facts from the docs worth showing.
	Notes []string
	// Docs is the board's Libreboot install page.
	Docs string

	vendorRE, productRE *regexp.Regexp
}

// Machine is what DMI says about the running machine (rom.Machine's
// fields, taken apart so this package needs nothing else).
type Machine struct {
	SysVendor, ProductName, ProductVersion, BoardVendor, BoardName string
}

// Matches reports whether m is this board.
func (b *Board) Matches(m Machine) bool {
	vendor := false
	for _, v := range []string{m.SysVendor, m.BoardVendor} {
		if v != "" && b.vendorRE.MatchString(strings.TrimSpace(v)) {
			vendor = true
		}
	}
	if !vendor {
		return false
	}
	for _, p := range []string{m.ProductName, m.ProductVersion, m.BoardName} {
		if p != "" && b.productRE.MatchString(strings.TrimSpace(p)) {
			return true
		}
	}
	return false
}

// compile prepares the patterns; init runs it for every entry, so a bad
// pattern fails the package's tests (and every test that imports it).
func (b *Board) compile() {
	b.vendorRE = regexp.MustCompile(anchor(b.Vendor))
	b.productRE = regexp.MustCompile(anchor(b.Product))
}

func init() {
	for i := range table {
		table[i].compile()
	}
}

func anchor(re string) string { return `(?i)^(?:` + re + `)$` }

// RouteFrom is the route when the running firmware is coreboot or not.
func (b *Board) RouteFrom(coreboot bool) Route {
	if coreboot {
		return Direct
	}
	return b.Route
}

// Sizes lists the flash sizes the docs name, for messages ("4 MiB or 8 MiB").
func (b *Board) Sizes() string {
	parts := make([]string, len(b.Layouts))
	for i, l := range b.Layouts {
		parts[i] = l.String()
	}
	return strings.Join(parts, " or ")
}

// Lookup returns the board m is, or nil when the table does not know it.
func Lookup(m Machine) *Board {
	for i := range table {
		if table[i].Matches(m) {
			return &table[i]
		}
	}
	return nil
}

// All returns the table (a copy of the slice; the boards are shared).
func All() []*Board {
	out := make([]*Board, len(table))
	for i := range table {
		out[i] = &table[i]
	}
	return out
}

// ByID returns the board with the given ID.
func ByID(id string) *Board {
	for i := range table {
		if table[i].ID == id {
			return &table[i]
		}
	}
	return nil
}
