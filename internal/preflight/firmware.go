package preflight

import (
	"os"
	"path/filepath"
	"strings"

	"libreflash/internal/boards"
	"libreflash/internal/rom"
)

// Firmware is what runs the machine now.
type Firmware struct {
	// Coreboot: coreboot (Libreboot) runs, seen from its table
	// (/sys/bus/coreboot, or coreboot's memory console /sys/firmware/log)
	// or from DMI's bios_vendor.
	Coreboot bool `json:"coreboot"`
	// Evidence says how Coreboot was decided.
	Evidence string `json:"evidence,omitempty"`
	Vendor   string `json:"vendor,omitempty"`
	Version  string `json:"version,omitempty"`
	Date     string `json:"date,omitempty"`
}

func (f Firmware) String() string {
	name := f.Vendor
	if f.Coreboot && !strings.Contains(strings.ToLower(name), "coreboot") {
		name = strings.TrimSpace("coreboot " + name)
	}
	if name == "" {
		name = "unknown firmware"
	}
	if f.Version != "" {
		name += " " + f.Version
	}
	if f.Date != "" {
		name += " (" + f.Date + ")"
	}
	return name
}

// ReadFirmware reads the running firmware under e's root.
func ReadFirmware(e *Env) (*rom.Machine, Firmware) {
	e = e.withDefaults()
	m := rom.ReadMachine(e.Root)
	f := Firmware{Vendor: m.BIOSVendor, Version: m.BIOSVersion}
	f.Date, _ = e.readString("/sys/class/dmi/id/bios_date")
	switch {
	case dirNonEmpty(e.Path("/sys/bus/coreboot/devices")):
		f.Coreboot, f.Evidence = true, "coreboot table (/sys/bus/coreboot/devices)"
	case e.exists("/sys/firmware/log"):
		f.Coreboot, f.Evidence = true, "coreboot memory console (/sys/firmware/log)"
	case strings.Contains(strings.ToLower(m.BIOSVendor), "coreboot"):
		f.Coreboot, f.Evidence = true, "DMI bios_vendor "+`"`+m.BIOSVendor+`"`
	case m.BIOSVendor != "":
		f.Evidence = "DMI bios_vendor " + `"` + m.BIOSVendor + `"`
	}
	m.Coreboot = f.Coreboot
	return m, f
}

func dirNonEmpty(p string) bool {
	ents, err := os.ReadDir(filepath.Clean(p))
	return err == nil && len(ents) > 0
}

// BoardOf looks m up in Libreboot's board list.
func BoardOf(m *rom.Machine) *boards.Board {
	if m == nil {
		return nil
	}
	return boards.Lookup(boards.Machine{SysVendor: m.SysVendor, ProductName: m.ProductName,
		ProductVersion: m.ProductVersion, BoardVendor: m.BoardVendor, BoardName: m.BoardName})
}
