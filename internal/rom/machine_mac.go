package rom

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"libreflash/internal/host"
)

// gbeDrivers are the Linux drivers of the Intel Ethernet controllers whose
// settings live in the flash descriptor's GbE region.
var gbeDrivers = map[string]bool{"e1000e": true}

// NIC is a network interface the running kernel reports.
type NIC struct {
	Name    string       `json:"name"`
	Driver  string       `json:"driver"`
	Address HardwareAddr `json:"-"`
	MAC     string       `json:"address"`
}

// ReadGbENIC finds, under root (/sys/class/net; "" is "/"), the interface of an Intel
// controller whose MAC the GbE region holds: what the machine uses now,
// which a written image should keep. ok is false when there is none (no
// such controller, or the driver is not loaded).
func ReadGbENIC(root string) (nic NIC, ok bool) {
	base := host.Root(root).Path("/sys/class/net")
	ents, err := os.ReadDir(base)
	if err != nil {
		return nic, false
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		drv, err := os.Readlink(filepath.Join(base, n, "device", "driver"))
		if err != nil || !gbeDrivers[filepath.Base(drv)] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(base, n, "address"))
		if err != nil || len(b) > 64 {
			continue
		}
		a, err := ParseMAC(strings.TrimSpace(string(b)))
		if err != nil {
			continue
		}
		return NIC{Name: n, Driver: filepath.Base(drv), Address: a, MAC: a.String()}, true
	}
	return nic, false
}
