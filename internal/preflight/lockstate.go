package preflight

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// LockState is what the chipset's registers say about the flash
// protection that vendor firmware sets and the unlock routes lift. It is
// read, never written: PCI config space from sysfs, HSFS through a
// read-only /dev/mem mapping, SMI_EN with a port read. Each field has a
// Known flag; a register that could not be read says why in Errors.
type LockState struct {
	// Chipset is the LPC bridge ("8086:2917").
	Chipset string `json:"chipset,omitempty"`

	// BIOS_CNTL (LPC or SPI function, +0xDC).
	BIOSCntlKnown bool `json:"bios_cntl_known"`
	BIOSCntl      byte `json:"bios_cntl"`

	// HSFS in SPIBAR (RCBA+0x3800 on ICH8 to 9-series, the SPI BAR on
	// later PCHs): FDV (descriptor valid) and FDOPSS (override strap; 0
	// means the override is in effect).
	HSFSKnown          bool   `json:"hsfs_known"`
	HSFS               uint16 `json:"hsfs"`
	HSFSAddr           uint64 `json:"hsfs_addr,omitempty"`
	DescriptorValid    bool   `json:"descriptor_valid"`
	DescriptorOverride bool   `json:"descriptor_override"`

	// SMI_EN at PMBASE+0x30, bit 0 GBL_SMI_EN; PMBASE from LPC +0x40.
	SMIEnKnown bool   `json:"smi_en_known"`
	PMBase     uint16 `json:"pmbase,omitempty"`
	SMIEn      uint32 `json:"smi_en"`
	GblSMIEn   bool   `json:"gbl_smi_en"`

	// GEN_PMCON_1 (LPC +0xA0), bit 4 SMI_LOCK: GBL_SMI_EN can no longer
	// be cleared.
	SMILockKnown bool `json:"smi_lock_known"`
	SMILock      bool `json:"smi_lock"`

	Errors []string `json:"errors,omitempty"`
}

// Register offsets and bits (Intel ICH8/ICH9/ICH10 and 5- to 9-series
// datasheets; the same ones dell-flash-unlock uses).
const (
	pmbaseOff    = 0x40   // LPC: ACPI/PM base address, bits 15:7
	acpiCntlOff  = 0x44   // LPC: bit 7 ACPI_EN (PMBASE decode)
	genPMCon1Off = 0xa0   // LPC: GEN_PMCON_1
	smiLockBit   = 1 << 4 // GEN_PMCON_1.SMI_LOCK
	spibarOff    = 0x3800 // SPIBAR inside the RCRB (ICH8 and later)
	hsfsOff      = 0x04   // HSFS inside SPIBAR
	hsfsFDV      = 1 << 14
	hsfsFDOPSS   = 1 << 13
	smiEnOff     = 0x30 // SMI_EN inside the PM I/O range
	gblSMIEn     = 1 << 0
)

// ReadLockState reads the lock registers of the machine e describes.
func ReadLockState(e *Env) *LockState {
	e = e.withDefaults()
	return readLockState(e, findChipset(e))
}

func readLockState(e *Env, c chipset) *LockState {
	ls := &LockState{Chipset: c.id}
	fail := func(format string, a ...any) { ls.Errors = append(ls.Errors, fmt.Sprintf(format, a...)) }
	if !c.intel {
		fail("no Intel LPC bridge at %s", lpcAddr)
		return ls
	}
	if c.biosCntlFrom != "" {
		ls.BIOSCntlKnown, ls.BIOSCntl = true, c.biosCntl
	}
	if c.partial {
		fail("PCI config space beyond the header needs root")
		return ls
	}
	devmem := e.Path("/dev/mem")
	hsfsAt := uint64(0)
	switch c.window {
	case "SPI BAR":
		hsfsAt = c.base + hsfsOff
	case "ICH RCRB":
		if !ich7(c) {
			hsfsAt = c.base + spibarOff + hsfsOff
		}
	}
	if hsfsAt != 0 {
		v, err := e.ReadPhys32(devmem, hsfsAt)
		if err != nil {
			fail("HSFS at %#x: %v", hsfsAt, err)
		} else {
			ls.HSFSKnown, ls.HSFS, ls.HSFSAddr = true, uint16(v), hsfsAt
			ls.DescriptorValid = ls.HSFS&hsfsFDV != 0
			ls.DescriptorOverride = ls.DescriptorValid && ls.HSFS&hsfsFDOPSS == 0
		}
	} else {
		fail("no SPIBAR known for chipset %s", c.id)
	}
	if c.window != "ICH RCRB" {
		return ls // PMBASE and GEN_PMCON_1 live elsewhere on 100-series and later
	}
	lpc, err := readPCIConfig(e, lpcAddr)
	if err != nil || !lpc.full() {
		fail("LPC config space unreadable")
		return ls
	}
	pmcon := binary.LittleEndian.Uint16(lpc.b[genPMCon1Off:])
	ls.SMILockKnown, ls.SMILock = true, pmcon&smiLockBit != 0
	pmbase := uint16(lpc.u32(pmbaseOff)) & 0xff80
	switch {
	case lpc.u8(acpiCntlOff)&0x80 == 0 || pmbase == 0:
		fail("PMBASE not decoded (ACPI_CNTL=%#02x, PMBASE=%#x)", lpc.u8(acpiCntlOff), pmbase)
	default:
		ls.PMBase = pmbase
		v, err := e.InL(pmbase + smiEnOff)
		if err != nil {
			fail("SMI_EN at port %#x: %v", pmbase+smiEnOff, err)
		} else {
			ls.SMIEnKnown, ls.SMIEn, ls.GblSMIEn = true, v, v&gblSMIEn != 0
		}
	}
	return ls
}

func ich7(c chipset) bool {
	var dev uint16
	fmt.Sscanf(c.id, "8086:%04x", &dev)
	return dev >= 0x27b0 && dev <= 0x27bf
}

// BIOSLocked: BLE or SMM_BWP set, so a write needs SMIs out of the way.
func (ls *LockState) BIOSLocked() bool {
	return ls.BIOSCntlKnown && ls.BIOSCntl&(bcBLE|bcSMMBWP) != 0
}

// String is one line for reports: what is known, bit by bit.
func (ls *LockState) String() string {
	var parts []string
	if ls.BIOSCntlKnown {
		parts = append(parts, fmt.Sprintf("BIOS_CNTL=%#02x (BLE=%d SMM_BWP=%d)", ls.BIOSCntl, (ls.BIOSCntl&bcBLE)>>1, (ls.BIOSCntl&bcSMMBWP)>>5))
	}
	if ls.HSFSKnown {
		what := "descriptor override " + onOff(ls.DescriptorOverride)
		if !ls.DescriptorValid {
			what = "no valid descriptor, so no descriptor limits"
		}
		parts = append(parts, fmt.Sprintf("HSFS=%#04x (FDV=%d FDOPSS=%d: %s)", ls.HSFS,
			b2i(ls.HSFS&hsfsFDV != 0), b2i(ls.HSFS&hsfsFDOPSS != 0), what))
	}
	if ls.SMIEnKnown {
		parts = append(parts, fmt.Sprintf("SMI_EN=%#08x at port %#x (GBL_SMI_EN=%d)", ls.SMIEn, ls.PMBase+smiEnOff, b2i(ls.GblSMIEn)))
	}
	if ls.SMILockKnown {
		parts = append(parts, fmt.Sprintf("SMI_LOCK=%d", b2i(ls.SMILock)))
	}
	if len(ls.Errors) > 0 {
		parts = append(parts, "not read: "+strings.Join(ls.Errors, "; "))
	}
	return strings.Join(parts, ", ")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func onOff(b bool) string {
	if b {
		return "in effect"
	}
	return "not in effect"
}

// DescriptorUnlocked: the flash descriptor's access limits are not in
// effect, because the override strap was sampled at power-on or because
// the chipset found no valid descriptor at all.
func (ls *LockState) DescriptorUnlocked() bool {
	return ls.HSFSKnown && (!ls.DescriptorValid || ls.DescriptorOverride)
}
