package boards

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every entry is complete and consistent: the table is data typed by hand.
func TestTableWellFormed(t *testing.T) {
	idRE := regexp.MustCompile(`^[a-z0-9]+$`)
	seen := map[string]bool{}
	for _, b := range All() {
		where := b.ID
		if !idRE.MatchString(b.ID) || seen[b.ID] {
			t.Errorf("%q: ID empty, not [a-z0-9]+ or repeated", b.ID)
		}
		seen[b.ID] = true
		if b.Name == "" || b.Chipset == "" || b.VendorFirmware == "" {
			t.Errorf("%s: name, chipset or vendor firmware missing", where)
		}
		if !slices.Contains(Routes, b.Route) {
			t.Errorf("%s: route %q is not one of %v", where, b.Route, Routes)
		}
		if b.Route == Direct {
			t.Errorf("%s: the table lists boards whose vendor firmware needs more than a direct write", where)
		}
		if (b.Route == Jumper || b.Route == ExternalRequired) && len(b.Steps) == 0 {
			t.Errorf("%s: route %s without the docs' steps", where, b.Route)
		}
		for _, s := range append(append([]string{}, b.Steps...), b.Notes...) {
			if strings.TrimSpace(s) == "" {
				t.Errorf("%s: empty step or note", where)
			}
		}
		u, err := url.Parse(b.Docs)
		if err != nil || u.Scheme != "https" || u.Host != "libreboot.org" || !strings.HasPrefix(u.Path, "/docs/install/") || !strings.HasSuffix(u.Path, ".html") {
			t.Errorf("%s: docs %q is not a Libreboot install page", where, b.Docs)
		}
		if len(b.Layouts) == 0 {
			t.Errorf("%s: no flash layout", where)
		}
		for _, l := range b.Layouts {
			if len(l) == 0 || len(l) > 2 {
				t.Errorf("%s: layout %v: want one or two chips", where, l)
			}
			for _, c := range l {
				if c <= 0 || c%MiB != 0 || c > 64*MiB {
					t.Errorf("%s: chip size %d is not a whole number of MiB up to 64", where, c)
				}
			}
		}
		// Patterns must not match everything of the vendor.
		if b.Matches(Machine{SysVendor: "LENOVO", ProductVersion: "ThinkPad"}) ||
			b.Matches(Machine{SysVendor: "Dell Inc.", ProductName: "Latitude"}) {
			t.Errorf("%s: product pattern %q matches a bare family name", where, b.Product)
		}
	}
}

// DMI as the machines report it (vendor firmware and coreboot) finds the
// right entry, and only that one.
func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		m    Machine
		want string
	}{
		{Machine{SysVendor: "LENOVO", ProductName: "7454CTO", ProductVersion: "ThinkPad X200"}, "x200"},
		{Machine{SysVendor: "LENOVO", ProductName: "7470A11", ProductVersion: "ThinkPad X200s"}, "x200"},
		{Machine{SysVendor: "LENOVO", ProductName: "7450AA1", ProductVersion: "ThinkPad X200 Tablet"}, "x200"},
		{Machine{SysVendor: "LENOVO", ProductName: "ThinkPad X200", ProductVersion: ""}, "x200"}, // coreboot
		{Machine{SysVendor: "LENOVO", ProductName: "2330A1G", ProductVersion: "ThinkPad X230"}, "x230"},
		{Machine{SysVendor: "LENOVO", ProductName: "2349KL6", ProductVersion: "ThinkPad T430"}, "x230"},
		{Machine{SysVendor: "LENOVO", ProductName: "2767JZ4", ProductVersion: "ThinkPad T400"}, "t400"},
		{Machine{SysVendor: "LENOVO", ProductName: "20AWS0C500", ProductVersion: "ThinkPad T440p"}, "t440p"},
		{Machine{SysVendor: "Dell Inc.", ProductName: "Latitude E6400"}, "e6400"},
		{Machine{SysVendor: "Dell Inc.", ProductName: "Latitude E6400 ATG"}, "e6400"},
		{Machine{SysVendor: "Dell Inc.", ProductName: "Latitude E6430"}, "e6x30"},
		{Machine{SysVendor: "Dell Inc.", ProductName: "OptiPlex 9020"}, "dell9020"},
		{Machine{SysVendor: "Dell Inc.", ProductName: "Precision T1650"}, "t1650"},
		{Machine{SysVendor: "Hewlett-Packard", ProductName: "HP Compaq 8200 Elite SFF PC"}, "hp8200sff"},
		{Machine{SysVendor: "Hewlett-Packard", ProductName: "HP EliteBook 2560p"}, "hp2560p"},
		{Machine{SysVendor: "LENOVO", ProductName: "ThinkPad X201", ProductVersion: "ThinkPad X201"}, ""},
		{Machine{SysVendor: "Dell Inc.", ProductName: "Latitude E6440"}, ""},
		{Machine{SysVendor: "QEMU", ProductName: "Standard PC (Q35 + ICH9, 2009)"}, ""},
		{Machine{SysVendor: "Acme", ProductName: "Latitude E6400"}, ""},
		{Machine{}, ""},
	} {
		var got string
		n := 0
		for _, b := range All() {
			if b.Matches(tc.m) {
				got = b.ID
				n++
			}
		}
		if got != tc.want || n > 1 {
			t.Errorf("%+v: matched %q (%d entries), want %q", tc.m, got, n, tc.want)
		}
		if b := Lookup(tc.m); (b == nil) != (tc.want == "") || (b != nil && b.ID != tc.want) {
			t.Errorf("%+v: Lookup %v", tc.m, b)
		}
	}
}

func TestRouteFrom(t *testing.T) {
	b := ByID("x200")
	if b.RouteFrom(false) != ExternalRequired || b.RouteFrom(true) != Direct {
		t.Errorf("x200: %s from Lenovo, %s from coreboot", b.RouteFrom(false), b.RouteFrom(true))
	}
	if got := ByID("x230").Sizes(); got != "12 MiB (8+4 MiB chips)" {
		t.Errorf("x230 sizes %q", got)
	}
	if got := ByID("x200").Sizes(); got != "4 MiB or 8 MiB" {
		t.Errorf("x200 sizes %q", got)
	}
	for _, r := range Routes {
		if r.Meaning() == "unknown route" {
			t.Errorf("%s has no meaning", r)
		}
	}
}
