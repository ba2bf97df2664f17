//go:build linux && amd64

// Command dellfake plays, inside the QEMU q35 guest of scripts/vmdell.sh,
// the two parts of a Dell Latitude that q35 lacks: Dell's BIOS with its EC,
// and dell-flash-unlock talking to that EC. q35's ICH9 keeps whatever is
// written to its chipset registers (HSFS in the RCRB, BIOS_CNTL, SMI_EN),
// so both parts act on the real emulated registers that libreflash's
// read-only probes then read through the real kernel interfaces.
//
//	dellfake firmware       at power-on, before anything else runs: set the
//	                        registers as Dell's BIOS leaves them (BIOS_CNTL
//	                        BLE, SMIs enabled, a valid descriptor whose
//	                        override strap reads unset) — unless the EC was
//	                        armed and this power-on follows a shut down
//	                        (dellfake.power=cold on the kernel command
//	                        line): then the strap reads set, once. With
//	                        dellfake.fw=coreboot it is Libreboot instead:
//	                        no BIOS lock (the guest's SMBIOS says coreboot).
//	dell_flash_unlock       (this binary installed under that name) the
//	                        unlock tool's behaviour and messages, as its
//	                        public source has them (see
//	                        testdata/flashers/dell-flash-unlock-bf35bde):
//	                        arm the override through the EC, else disable
//	                        SMIs where the BIOS lock keeps write enable from
//	                        sticking, else enable them again.
//
// The EC is a small virtio disk with the serial "dell-ec"; its first byte
// is 'A' while the override is armed. Without that disk the EC does not
// answer, as in a plain q35 (the real tool times out there).
//
// This is test machinery for the guest only; it is never built into
// libreflash.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	lpcConfig  = "/sys/bus/pci/devices/0000:00:1f.0/config"
	rcbaOff    = 0xf0
	pmbaseOff  = 0x40
	biosCntl   = 0xdc
	bcBLE      = 1 << 1
	hsfsOff    = 0x3804 // SPIBAR (RCBA+0x3800) + HSFS
	hsfsFDV    = 1 << 14
	hsfsFDOPSS = 1 << 13
	smiEnOff   = 0x30
	gblSMIEn   = 1 << 0
	ecSerial   = "dell-ec"
	armedByte  = 'A'
)

func inl(port uint16) uint32
func outl(port uint16, v uint32)

func main() {
	runtime.LockOSThread() // I/O permission is per thread
	var err error
	switch name := filepath.Base(os.Args[0]); {
	case name == "dellfake" && len(os.Args) == 2 && os.Args[1] == "firmware":
		err = firmware()
	case name == "dellfake":
		fmt.Fprintln(os.Stderr, "usage: dellfake firmware (or run it as dell_flash_unlock)")
		os.Exit(2)
	default:
		os.Exit(unlockTool(name))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dellfake:", err)
		os.Exit(1)
	}
}

// firmware sets the registers as Dell's BIOS leaves them at power-on.
func firmware() error {
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return err
	}
	cold := bytes.Contains(cmdline, []byte("dellfake.power=cold"))
	bc := byte(bcBLE)
	if bytes.Contains(cmdline, []byte("dellfake.fw=coreboot")) {
		bc = 0 // Libreboot leaves the flash writable
	}
	strap := false
	if ec := findEC(); ec != "" {
		b, err := readEC(ec)
		if err != nil {
			return err
		}
		if b == armedByte && cold {
			strap = true // the EC pulls the strap on this power-on, once
			if err := writeEC(ec, 0); err != nil {
				return err
			}
		}
	}
	cfg, err := os.OpenFile(lpcConfig, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer cfg.Close()
	rcba, pmbase, err := bases(cfg)
	if err != nil {
		return err
	}
	hsfs := uint32(hsfsFDV)
	if !strap {
		hsfs |= hsfsFDOPSS
	}
	if err := mmio(rcba+hsfsOff, func(p *uint32) { atomic.StoreUint32(p, hsfs) }, true); err != nil {
		return err
	}
	if _, err := cfg.WriteAt([]byte{bc}, biosCntl); err != nil {
		return err
	}
	if err := unix.Iopl(3); err != nil {
		return fmt.Errorf("iopl: %w", err)
	}
	outl(pmbase+smiEnOff, inl(pmbase+smiEnOff)|gblSMIEn)
	fmt.Printf("dellfake firmware: %s power-on, HSFS=%#04x (override strap %s), BIOS_CNTL=%#02x, SMI_EN=%#08x\n",
		map[bool]string{true: "cold", false: "warm"}[cold], hsfs, map[bool]string{true: "set", false: "unset"}[strap], bc, inl(pmbase+smiEnOff))
	return nil
}

// unlockTool behaves as dell_flash_unlock does; it returns the exit status.
func unlockTool(name string) int {
	fail := func(msg string, errno syscall.Errno) int {
		os.Stdout.Sync()
		fmt.Fprintf(os.Stderr, "%s: %s: %s\n", name, msg, strerror(errno))
		return int(errno)
	}
	if err := unix.Iopl(3); err != nil {
		return fail("Could not access IO ports", errnoOf(err))
	}
	mem, err := unix.Open("/dev/mem", unix.O_RDONLY|unix.O_SYNC, 0)
	if err != nil {
		return fail("/dev/mem", errnoOf(err))
	}
	unix.Close(mem)
	cfg, err := os.OpenFile(lpcConfig, os.O_RDWR, 0)
	if err != nil {
		return fail("Could not access PCI config", errnoOf(err))
	}
	defer cfg.Close()
	rcba, pmbase, err := bases(cfg)
	if err != nil {
		return fail("Could not map RCBA", unix.EINVAL)
	}
	var hsfs uint32
	if err := mmio(rcba+hsfsOff, func(p *uint32) { hsfs = atomic.LoadUint32(p) }, false); err != nil {
		return fail("Could not map RCBA", errnoOf(err))
	}
	if hsfs&hsfsFDOPSS != 0 { // the strap is not set: ask the EC for it
		fmt.Println("Sending FDO override command to EC:")
		ec := findEC()
		if ec == "" {
			for i := 0; i < 1000; i++ { // the EC's busy byte never clears
				time.Sleep(time.Millisecond)
			}
			return fail("Timeout while waiting for EC!", unix.ECANCELED)
		}
		if err := writeEC(ec, armedByte); err != nil {
			return fail("Timeout while waiting for EC!", unix.ECANCELED)
		}
		fmt.Print("Flash Descriptor Override enabled.\nShut down (don't reboot) now.\n\n" +
			"The EC may auto-boot on some systems; if not then manually power on.\n" +
			" When the system boots rerun this utility to finish unlocking.\n")
		return 0
	}
	bc := make([]byte, 1)
	if _, err := cfg.ReadAt(bc, biosCntl); err != nil {
		return fail("Could not read BIOS_CNTL", errnoOf(err))
	}
	smi := inl(pmbase + smiEnOff)
	// With BLE set and SMIs on, the BIOS's SMI handler clears the write
	// enable the tool sets: it does not stick.
	sticks := bc[0]&bcBLE == 0 || smi&gblSMIEn == 0
	switch {
	case !sticks:
		outl(pmbase+smiEnOff, smi&^gblSMIEn)
		if inl(pmbase+smiEnOff)&gblSMIEn != 0 {
			return fail("Could not disable SMIs!", unix.ECANCELED)
		}
		fmt.Print("SMIs disabled. Internal flashing should work now.\n" +
			" After flashing, re-run this utility to enable SMIs.\n" +
			" (shutdown is buggy when SMIs are disabled)\n")
	case smi&gblSMIEn != 0:
		fmt.Print("Flash is unlocked.\nInternal flashing should work.\n")
	default:
		outl(pmbase+smiEnOff, smi|gblSMIEn)
		fmt.Print("SMIs enabled.\nYou can now shutdown the system.\n")
	}
	return 0
}

// bases reads RCBA and PMBASE from the LPC bridge's config space.
func bases(cfg *os.File) (rcba uint64, pmbase uint16, err error) {
	b := make([]byte, 256)
	if _, err := cfg.ReadAt(b, 0); err != nil {
		return 0, 0, err
	}
	le := func(o int) uint32 { return uint32(b[o]) | uint32(b[o+1])<<8 | uint32(b[o+2])<<16 | uint32(b[o+3])<<24 }
	r := le(rcbaOff)
	if r&1 == 0 {
		return 0, 0, errors.New("RCBA not enabled")
	}
	return uint64(r &^ 0x3fff), uint16(le(pmbaseOff) & 0xff80), nil
}

// mmio maps the page holding addr and calls f on the register there.
func mmio(addr uint64, f func(*uint32), write bool) error {
	flags, prot := unix.O_RDONLY, unix.PROT_READ
	if write {
		flags, prot = unix.O_RDWR, unix.PROT_READ|unix.PROT_WRITE
	}
	fd, err := unix.Open("/dev/mem", flags|unix.O_SYNC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	base := addr &^ 0xfff
	m, err := unix.Mmap(fd, int64(base), 0x1000, prot, unix.MAP_SHARED)
	if err != nil {
		return err
	}
	defer unix.Munmap(m)
	f((*uint32)(unsafe.Pointer(&m[addr-base])))
	return nil
}

// findEC is the EC's disk, "" when there is none.
func findEC() string {
	blocks, _ := filepath.Glob("/sys/block/vd*/serial")
	for _, s := range blocks {
		if b, err := os.ReadFile(s); err == nil && strings.TrimSpace(string(b)) == ecSerial {
			return "/dev/" + filepath.Base(filepath.Dir(s))
		}
	}
	return ""
}

func readEC(dev string) (byte, error) {
	f, err := os.Open(dev)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b := make([]byte, 512)
	if _, err := f.ReadAt(b, 0); err != nil {
		return 0, err
	}
	return b[0], nil
}

// writeEC sets the EC's byte, on the disk before it returns (the guest
// may be powered off next).
func writeEC(dev string, v byte) error {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte{v}, 0); err != nil {
		return err
	}
	return f.Sync()
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EIO
}

// strerror is glibc's wording of e: Go's, capitalised ("Operation
// canceled", "Operation not permitted").
func strerror(e syscall.Errno) string {
	s := e.Error()
	return strings.ToUpper(s[:1]) + s[1:]
}
