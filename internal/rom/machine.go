package rom

import (
	"os"
	"slices"
	"strings"
	"unicode"

	"libreflash/internal/host"
)

// Machine is what the running machine says about its board: DMI from the
// factory firmware, or, when it already runs coreboot, coreboot's own
// mainboard vendor and part number (which coreboot puts into DMI).
type Machine struct {
	SysVendor      string `json:"sys_vendor,omitempty"`
	ProductName    string `json:"product_name,omitempty"`
	ProductVersion string `json:"product_version,omitempty"`
	BoardVendor    string `json:"board_vendor,omitempty"`
	BoardName      string `json:"board_name,omitempty"`
	BIOSVendor     string `json:"bios_vendor,omitempty"`
	BIOSVersion    string `json:"bios_version,omitempty"`
	// Coreboot: the running firmware is coreboot (Libreboot).
	Coreboot bool `json:"coreboot"`
}

// Known reports whether there is anything to compare an image with.
func (m *Machine) Known() bool {
	return m != nil && (m.SysVendor != "" || m.BoardVendor != "") &&
		(m.ProductName != "" || m.ProductVersion != "" || m.BoardName != "")
}

// Source says where the board facts came from, for messages.
func (m *Machine) Source() string {
	if m.Coreboot {
		return "the running coreboot firmware's board (DMI)"
	}
	return "the machine's DMI"
}

func (m *Machine) String() string {
	var parts []string
	for _, s := range []string{m.SysVendor, m.ProductVersion, m.ProductName} {
		if s != "" && !containsFold(parts, s) {
			parts = append(parts, s)
		}
	}
	if m.BoardName != "" && !containsFold(parts, m.BoardName) {
		parts = append(parts, "board "+m.BoardName)
	}
	return strings.Join(parts, " ")
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// ReadMachine reads the board facts under root ("/" on a real machine, a
// fixture tree in tests). Missing files leave fields empty.
func ReadMachine(root string) *Machine {
	read := func(p string) string {
		b, err := os.ReadFile(host.Root(root).Path(p))
		if err != nil || len(b) > 4096 {
			return ""
		}
		s := strings.TrimSpace(string(b))
		if placeholderDMI(s) {
			return ""
		}
		return s
	}
	dmi := "sys/class/dmi/id/"
	m := &Machine{
		SysVendor:      read(dmi + "sys_vendor"),
		ProductName:    read(dmi + "product_name"),
		ProductVersion: read(dmi + "product_version"),
		BoardVendor:    read(dmi + "board_vendor"),
		BoardName:      read(dmi + "board_name"),
		BIOSVendor:     read(dmi + "bios_vendor"),
		BIOSVersion:    read(dmi + "bios_version"),
	}
	m.Coreboot = strings.Contains(strings.ToLower(m.BIOSVendor), "coreboot")
	// The kernel's coreboot table driver lists the table's entries here.
	if ents, err := os.ReadDir(host.Root(root).Path("sys/bus/coreboot/devices")); err == nil && len(ents) > 0 {
		m.Coreboot = true
	}
	return m
}

// placeholderDMI recognises the filler vendors leave in DMI fields.
func placeholderDMI(s string) bool {
	switch strings.ToLower(s) {
	case "", "to be filled by o.e.m.", "default string", "not applicable", "not specified", "none", "system product name", "system manufacturer", "0123456789":
		return true
	}
	return false
}

// BoardMatch is the outcome of comparing an image's board with a machine.
type BoardMatch int

const (
	BoardUnknown  BoardMatch = iota // nothing to compare
	BoardMatches                    // vendor and model agree
	BoardVariant                    // same model family, different suffix (X200 vs X200s)
	BoardMismatch                   // different vendor or model
)

// vendorAliases maps coreboot vendor names to DMI spellings that do not
// start with them.
var vendorAliases = map[string][]string{
	"hp":     {"hewlettpackard"},
	"lenovo": {"ibm"},
}

// MatchBoard compares the image's board with the machine's.
func MatchBoard(b Board, m *Machine) BoardMatch {
	if !b.Known() || !m.Known() {
		return BoardUnknown
	}
	if v := alnum(b.Vendor); v != "" {
		ok := false
		for _, mv := range []string{alnum(m.SysVendor), alnum(m.BoardVendor)} {
			if mv == "" {
				continue
			}
			if strings.HasPrefix(mv, v) || strings.HasPrefix(v, mv) {
				ok = true
			}
			for _, a := range vendorAliases[v] {
				if strings.HasPrefix(mv, a) {
					ok = true
				}
			}
		}
		if !ok {
			return BoardMismatch
		}
	}
	want := modelTokens(b.Part)
	if len(want) == 0 {
		want = modelTokens(b.Kconfig)
	}
	have := map[string]bool{}
	for _, s := range []string{m.ProductName, m.ProductVersion, m.BoardName} {
		for _, t := range tokens(s) {
			have[t] = true
		}
	}
	// A model token may also end a field once punctuation is dropped:
	// coreboot's MACBOOK21 is DMI's "MacBook2,1".
	var joined []string
	for _, s := range []string{m.ProductName, m.ProductVersion, m.BoardName} {
		if a := alnum(s); a != "" {
			joined = append(joined, a)
		}
	}
	result := BoardMatches
	for _, w := range want {
		if have[w] || slices.ContainsFunc(joined, func(j string) bool { return strings.HasSuffix(j, w) }) {
			continue
		}
		variant := false
		for h := range have {
			if variantOf(w, h) {
				variant = true
			}
		}
		if !variant {
			return BoardMismatch
		}
		result = BoardVariant
	}
	return result
}

// modelTokens are the distinctive words of a part number: those with a
// digit ("x230", "t440p", "8560w"); family words like ThinkPad are shared by
// many boards and decide nothing.
func modelTokens(s string) []string {
	var out []string
	for _, t := range tokens(s) {
		if strings.IndexFunc(t, unicode.IsDigit) >= 0 {
			out = append(out, t)
		}
	}
	return out
}

// variantOf: one is the other plus a letter suffix (x200 / x200s, x230 /
// x230t). coreboot often builds one image for such variants, but not
// always, so the caller warns instead of passing.
func variantOf(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	rest, ok := strings.CutPrefix(b, a)
	return ok && rest != "" && strings.IndexFunc(rest, func(r rune) bool { return !unicode.IsLetter(r) }) < 0
}

func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func alnum(s string) string {
	return strings.Join(tokens(s), "")
}
