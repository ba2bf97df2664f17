package preflight

import "fmt"

var spiLockCheck = definition{id: "spi_lock", run: checkSPILock, informational: internalOnly}

// BIOS_CNTL bits (Intel ICH/PCH datasheets).
const (
	bcBIOSWE = 1 << 0 // BIOS write enable
	bcBLE    = 1 << 1 // BIOS lock enable: setting BIOSWE raises an SMI
	bcSMMBWP = 1 << 5 // SMM BIOS write protect: only SMM may write
)

// checkSPILock reads BIOS_CNTL from PCI config space, which needs no
// /dev/mem. Protected ranges and FLOCKDN live in SPIBAR and are left to
// flashprog's own output (diagnose explains them).
func checkSPILock(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS}
	}
	c := s.chip
	switch {
	case !c.intel && c.id == "":
		return Check{Status: Skip, Summary: "no chipset at 00:1f.0 (not an Intel PC, or PCI not visible)"}
	case !c.intel:
		return Check{Status: Skip, Summary: "chipset " + c.id + " is not an Intel LPC bridge; BIOS_CNTL not applicable"}
	case c.biosCntlFrom == "":
		return Check{Status: Skip, Summary: "BIOS_CNTL unreadable: PCI config space beyond the header needs root"}
	}
	bc := c.biosCntl
	bits := fmt.Sprintf("BIOS_CNTL=%#02x at %s+%#x (BIOSWE=%d BLE=%d SMM_BWP=%d)", bc, c.biosCntlFrom, biosCntlOff,
		bc&bcBIOSWE, (bc&bcBLE)>>1, (bc&bcSMMBWP)>>5)
	switch {
	case bc&bcSMMBWP != 0:
		return Check{
			Status:  Fail,
			Summary: "the firmware protects the flash from the OS (SMM_BWP set)",
			Detail: bits + ". Only System Management Mode may write the BIOS region; flashprog prints " +
				"\"BIOS region SMM protection is enabled\" and writes fail.",
			Fix: "This is a firmware setting no software can lift from the running OS.\n" +
				"1. Look for a BIOS write-protect or flash-lock option in the firmware setup and disable it.\n" +
				"2. Otherwise flash with an external programmer (e.g. --programmer ch341a_spi), as the Libreboot page for the board describes.",
			Docs: docsInternal,
		}
	case bc&bcBLE != 0:
		return Check{
			Status:  Warn,
			Summary: "BIOS lock enabled (BLE set): writes work only if the firmware's SMI handler allows them",
			Detail:  bits + ". Most vendor firmware on Libreboot-supported boards leaves it so; flashprog reports whether enabling writes worked.",
		}
	}
	return Check{Status: Pass, Summary: "flash not locked by BIOS_CNTL", Detail: bits}
}
