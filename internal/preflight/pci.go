package preflight

import (
	"encoding/binary"
	"fmt"
)

// pciConfig is a PCI function's configuration space as sysfs serves it:
// 256 bytes (4096 on PCIe) for root, only the 64-byte header for others.
type pciConfig struct {
	addr string // "0000:00:1f.0"
	b    []byte
}

func readPCIConfig(e *Env, addr string) (*pciConfig, error) {
	b, err := e.readFile("/sys/bus/pci/devices/" + addr + "/config")
	if err != nil {
		return nil, err
	}
	if len(b) < 0x40 {
		return nil, fmt.Errorf("%s: config space truncated (%d bytes)", addr, len(b))
	}
	return &pciConfig{addr: addr, b: b}, nil
}

func (c *pciConfig) vendor() uint16 { return binary.LittleEndian.Uint16(c.b[0:]) }
func (c *pciConfig) device() uint16 { return binary.LittleEndian.Uint16(c.b[2:]) }

// class returns base class and subclass (0x06 0x01 is an ISA bridge, where
// Intel puts its LPC/eSPI controller).
func (c *pciConfig) class() (base, sub byte) { return c.b[0x0b], c.b[0x0a] }

// full reports whether the device-specific part (beyond the 64-byte header)
// was readable, which needs root.
func (c *pciConfig) full() bool { return len(c.b) >= 0x100 }

func (c *pciConfig) u8(off int) byte    { return c.b[off] }
func (c *pciConfig) u32(off int) uint32 { return binary.LittleEndian.Uint32(c.b[off:]) }

const intelVendor = 0x8086

// chipset is what PCI config space tells about the flash controller: the
// physical window flashprog will map and the BIOS_CNTL register.
type chipset struct {
	intel  bool
	id     string // "8086:2918"
	window string // "ICH RCRB", "SPI BAR" or "" when not derivable
	base   uint64
	length uint64

	biosCntl     byte
	biosCntlFrom string // PCI function it was read from; "" when unreadable
	partial      bool   // config space truncated to the header (not root)
}

const (
	lpcAddr = "0000:00:1f.0" // LPC/eSPI bridge
	spiAddr = "0000:00:1f.5" // SPI controller function on 100-series and newer PCHs
	// biosCntlOff is BIOS_CNTL in the LPC bridge (ICH7 and later) and in the
	// SPI function of newer PCHs.
	biosCntlOff = 0xdc
	// rcbaOff is the Root Complex Base Address in the LPC bridge of ICH7
	// to 8-series PCHs; bit 0 enables it and the RCRB is 16 KiB.
	rcbaOff = 0xf0
)

// findChipset reads 00:1f.5 (SPI function) and 00:1f.0 (LPC bridge). The
// window is what flashprog maps first: the SPI BAR on PCHs that expose the
// SPI function, else the RCRB that holds SPIBAR on ICH7 to 8-series.
func findChipset(e *Env) chipset {
	var c chipset
	lpc, _ := readPCIConfig(e, lpcAddr)
	spi, _ := readPCIConfig(e, spiAddr)
	if lpc != nil {
		c.id = fmt.Sprintf("%04x:%04x", lpc.vendor(), lpc.device())
		c.intel = lpc.vendor() == intelVendor
	}
	if spi != nil && spi.vendor() == intelVendor {
		c.intel = true
		if bar := uint64(spi.u32(0x10)) &^ 0xfff; bar != 0 && spi.u32(0x10)&1 == 0 {
			c.window, c.base, c.length = "SPI BAR", bar, 0x1000
		}
		if spi.full() {
			c.biosCntl, c.biosCntlFrom = spi.u8(biosCntlOff), spiAddr
		} else {
			c.partial = true
		}
		return c
	}
	if lpc == nil || !c.intel {
		return c
	}
	if base, sub := lpc.class(); base != 0x06 || sub != 0x01 {
		c.intel = false // some other Intel function at 1f.0; not an LPC bridge
		return c
	}
	if !lpc.full() {
		c.partial = true
		return c
	}
	c.biosCntl, c.biosCntlFrom = lpc.u8(biosCntlOff), lpcAddr
	if !hasRCBA(lpc.device()) {
		return c // 100-series and later: 0xF0 is something else
	}
	if rcba := lpc.u32(rcbaOff); rcba&1 == 1 && rcba != 0xffffffff {
		if base := uint64(rcba) &^ 0x3fff; base != 0 {
			c.window, c.base, c.length = "ICH RCRB", base, 0x4000
		}
	}
	return c
}

// rcbaChipsets are the LPC device ID ranges of the chipsets that have an
// RCBA register at 0xF0 (ICH7 to 9-series PCHs), from Intel's datasheets
// and flashprog's chipset table.
var rcbaChipsets = [][2]uint16{
	{0x27b0, 0x27bf}, // ICH7
	{0x2810, 0x281f}, // ICH8
	{0x2910, 0x291f}, // ICH9 (QEMU's q35 LPC is 0x2918)
	{0x3a10, 0x3a1f}, // ICH10
	{0x3b00, 0x3b1f}, // 5-series / 3400
	{0x1c40, 0x1c5f}, // 6-series
	{0x1d40, 0x1d5f}, // C600 / X79
	{0x1e40, 0x1e5f}, // 7-series
	{0x8c40, 0x8c5f}, // 8-series
	{0x9c40, 0x9c4f}, // 8-series LP
	{0x8cc0, 0x8ccf}, // 9-series
	{0x9cc0, 0x9ccf}, // 9-series LP
}

func hasRCBA(device uint16) bool {
	for _, r := range rcbaChipsets {
		if device >= r[0] && device <= r[1] {
			return true
		}
	}
	return false
}
