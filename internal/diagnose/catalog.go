// Package diagnose owns libreflash's knowledge of flashprog and flashrom
// failures: a catalog of the messages they print (flashrom 0.9.x to 1.7,
// flashprog 1.0 to current), each tied to one cause ID of docs/design.md with a
// severity, a summary, a fix in numbered steps and a documentation link; and
// Diagnose, which reads a flasher log — captured live by the runner or pasted
// by a user — and names the outcome and the cause. Machine facts from the
// checks (Facts) settle messages that are ambiguous on their own.
//
// The package runs nothing and touches no host path.
package diagnose

import "strings"

// Severities of a finding.
const (
	Fatal   = "fatal"   // the run failed because of this
	Warning = "warning" // the run went on; it may explain a later failure
	Info    = "info"    // harmless, reported so nobody chases it
)

// Cause is one entry of the catalog: what a class of flasher messages means
// and what to do about it.
type Cause struct {
	ID       string
	Summary  string // one line
	Fix      string // numbered steps, one per line
	Docs     string // where the fix is documented
	Severity string // severity when this cause is behind a failed run
	// Signatures are the message texts (as printed, fields elided) that point
	// at this cause, for documentation; matching uses the same strings.
	Signatures []string
}

const (
	docLBDevmem  = "https://libreboot.org/docs/install/devmem.html"
	docLBInstall = "https://libreboot.org/docs/install/"
	docLBFAQ     = "https://libreboot.org/faq.html"
	docLBSPI     = "https://libreboot.org/docs/install/spi.html"
	docFPFAQ     = "https://flashprog.org/wiki/FAQ"
	docFPME      = "https://flashprog.org/ME"
	docFPLaptops = "https://flashprog.org/Laptops"
	docFRME      = "https://flashrom.org/user_docs/management_engine.html"
	docFRMan     = "https://flashrom.org/classic_cli_manpage.html"
)

// causes is the catalog, in the order of docs/design.md ("Cause IDs"). Fix texts are ours.
var causes = []Cause{
	{ID: "devmem_restricted", Severity: Fatal, Docs: docLBDevmem,
		Summary: "the kernel refused the flasher access to chipset memory through /dev/mem (CONFIG_STRICT_DEVMEM / CONFIG_IO_STRICT_DEVMEM, or a driver such as lpc_ich holding the range)",
		Fix: `1. Unload the driver that claims the SPI controller: sudo modprobe -r lpc_ich (or spi_intel_pci), then run the flasher again.
2. If that is not enough, add iomem=relaxed to the kernel command line (sudo libreflash prepare iomem-relaxed does it reversibly), reboot and run again.
3. If the kernel has no /dev/mem at all (CONFIG_DEVMEM off), boot a distribution kernel that has it.
4. After flashing, remove iomem=relaxed again (sudo libreflash restore).`},
	{ID: "kernel_lockdown", Severity: Fatal, Docs: docLBDevmem,
		Summary: "kernel lockdown (usually switched on by Secure Boot) forbids raw I/O ports and /dev/mem, even for root",
		Fix: `1. Check it: cat /sys/kernel/security/lockdown shows the active mode in brackets; mokutil --sb-state shows Secure Boot.
2. Disable Secure Boot in the firmware setup, or boot without lockdown (remove lockdown= from the kernel command line).
3. Reboot and run the flasher again as root.`},
	{ID: "iopl_unavailable", Severity: Fatal, Docs: docLBDevmem,
		Summary: "the running kernel was built without CONFIG_X86_IOPL_IOPERM, so no program can get I/O port access (\"Function not implemented\")",
		Fix: `1. Confirm it: grep IOPL /boot/config-$(uname -r) (or zcat /proc/config.gz) shows "# CONFIG_X86_IOPL_IOPERM is not set".
2. Boot a kernel built with CONFIG_X86_IOPL_IOPERM=y (most distribution kernels are), or rebuild yours with it.
3. Run the flasher again as root.`},
	{ID: "not_root", Severity: Fatal, Docs: docFPFAQ,
		Summary: "the flasher did not run as root (or lacked CAP_SYS_RAWIO), so it could not reach the chipset",
		Fix: `1. Run it with root rights: sudo flashprog -p internal ... (or sudo libreflash ...).
2. Inside a container or a sandboxed service, run it on the host instead: it needs CAP_SYS_RAWIO and real /dev/mem.`},
	{ID: "bsd_securelevel", Severity: Fatal, Docs: docFPFAQ,
		Summary: "the BSD securelevel is too high for a program to get I/O privileges or map /dev/mem",
		Fix: `1. Check it: sysctl kern.securelevel.
2. OpenBSD: set securelevel=-1 in /etc/rc.securelevel and reboot; FreeBSD: set kern_securelevel="-1" in /etc/rc.conf and reboot; NetBSD: boot single-user or use a kernel with options INSECURE.
3. Run the flasher as root, then restore the securelevel (sudo libreflash restore undoes what libreflash changed).`},
	{ID: "pat_conflict", Severity: Fatal, Docs: docFPFAQ,
		Summary: "mapping /dev/mem failed with \"Resource temporarily unavailable\": the range is already mapped with another caching mode (x86 PAT)",
		Fix: `1. Add nopat to the kernel command line and reboot.
2. Run the flasher again; remove nopat afterwards.`},
	{ID: "bios_lock", Severity: Fatal, Docs: docFPFAQ,
		Summary: "the firmware write-protects the flash: BIOS lock / SMM write protection, SPI configuration lockdown, protected ranges (PRx) or the chip's own write protection",
		Fix: `1. Do not retry the same write: the protection is set by the running firmware and survives until the next reset.
2. Look in the firmware setup for a BIOS/flash write-protection option and disable it, or use the board's documented internal-flashing procedure (Libreboot's install page for your machine says which steps it needs).
3. If the chip itself is write-protected (block protection, WP# pin), release the WP# pin and clear the protection (flashprog wp disable, or flashrom --wp-disable).
4. Where nothing in software can lift the lock, flash with an external programmer.`},
	{ID: "region_locked", Severity: Fatal, Docs: docFRME,
		Summary: "the Intel flash descriptor makes some regions (usually ME and the descriptor) unreadable or read-only for the host, so a whole-chip operation cannot work",
		Fix: `1. Write only the BIOS region: flashprog -p internal --ifd -i bios -N -w libreboot.rom (libreflash does this with --region bios).
2. To change the other regions, unlock the descriptor first (the HDA_SDO / flash-descriptor-override strap, or a descriptor that grants host access), as the install guide for your board describes.
3. Otherwise use an external programmer.`},
	{ID: "chip_not_found", Severity: Fatal, Docs: docFPFAQ,
		Summary: "no flash chip was detected",
		Fix: `1. Check that the flasher supports your chipset and chip: flashprog -L.
2. With -p internal on a laptop or an unknown board, read the flasher's earlier warnings: a disabled bus or a missing board enable hides the chip.
3. With an external programmer, check wiring, clip seating and supply voltage, and probe again.
4. To read an unrecognised chip anyway: flashprog -p ... -f -r dump.rom -c <chip name> (the data may be garbage; never write that way).`},
	{ID: "multiple_chips", Severity: Fatal, Docs: docFRMan,
		Summary: "several chip definitions match the detected chip ID, so the flasher will not guess",
		Fix: `1. Read the chip marking (or the board's documentation) to find the exact part.
2. Run the flasher again with -c "<name>" using one of the names it listed.`},
	{ID: "image_size_mismatch", Severity: Fatal, Docs: docLBFAQ,
		Summary: "the image file is not the size of the flash chip",
		Fix: `1. Find the chip size: flashprog -p internal --flash-size.
2. Use the Libreboot image built for your board and that chip size (boards ship with several sizes).
3. Only pad or cut an image when the install guide for your board says so.`},
	{ID: "verify_failed", Severity: Fatal, Docs: docLBInstall,
		Summary: "the chip contents differ from the image",
		Fix: `1. If this followed a write, do not reboot or power off: the chip may hold a partial image.
2. Write again (the verified backup if in doubt) and verify; libreflash does this rollback itself.
3. For a plain -v run, check that you compared against the right file; on descriptor-locked machines verify only the BIOS region (--ifd -i bios).`},
	{ID: "write_failed", Severity: Fatal, Docs: docLBInstall,
		Summary: "erasing or writing the chip failed",
		Fix: `1. Read the outcome first. "Unchanged" means nothing was written: you may reboot, then fix the cause above.
2. "Unknown state" means the chip may be half written: DO NOT REBOOT OR POWER OFF. Write the verified backup back (flashprog -p internal -w backup.rom) or retry the image, until a write verifies.
3. If every write fails, keep the machine running and get help (Libreboot IRC), and have an external programmer ready.`},
	{ID: "unsupported_chipset", Severity: Fatal, Docs: docFPFAQ,
		Summary: "the chipset or board is unknown to, or not supported by, this flasher version",
		Fix: `1. Check the supported list of your flasher: flashprog -L.
2. Update to the newest flashprog release; support is added over time.
3. If it is still unsupported, flash with an external programmer.`},
	{ID: "board_mismatch", Severity: Fatal, Docs: docLBInstall,
		Summary: "the image is for a different board than the one running (coreboot board ID check)",
		Fix: `1. Make sure the ROM was built for exactly this machine (same model and variant).
2. Only if you are sure, run again with -p internal:boardmismatch=force (libreflash: --force-board).`},
	{ID: "laptop_refused", Severity: Fatal, Docs: docFPLaptops,
		Summary: "the flasher detected a laptop it does not know and disabled the buses it could reach the chip through",
		Fix: `1. Check that your laptop is supported for internal flashing by Libreboot.
2. If it is, and the SMBIOS data are simply wrong, add -p internal:laptop=this_is_not_a_laptop; if it is a real laptop, -p internal:laptop=force_I_want_a_brick is the flasher's own override, at your risk.
3. Otherwise use an external programmer.`},
	{ID: "programmer_not_found", Severity: Fatal, Docs: docLBSPI,
		Summary: "the external programmer (USB or serial device) was not found or could not be opened",
		Fix: `1. Check the programmer is plugged in: lsusb (or ls /dev/ttyUSB* /dev/ttyACM* for serial ones).
2. Run the flasher as root, or install the udev rule that lets your user open the device.
3. Check the -p name and its dev=/serial= parameter, and unload drivers that grab the device.`},
	{ID: "usage_error", Severity: Fatal, Docs: docFRMan,
		Summary: "the flasher was called with arguments it does not accept",
		Fix: `1. Read the flasher's message just above: it names the bad option, parameter, region or file.
2. Correct the command line (flashprog --help, man flashprog) and run again.`},
	{ID: "flasher_missing", Severity: Fatal, Docs: docLBInstall,
		Summary: "no flashprog or flashrom program was found",
		Fix: `1. Install flashprog from your distribution, or build it from source (https://flashprog.org).
2. Make sure it is on root's PATH (sudo uses a restricted PATH), or pass --flasher /path/to/flashprog.`},
	{ID: "unknown", Severity: Fatal, Docs: docFPFAQ,
		Summary: "the run failed for a reason libreflash does not recognise",
		Fix: `1. Read the last lines of the log (shown as evidence).
2. If a write was interrupted, do not reboot or power off until a write has verified.
3. Ask for help with the complete log (flashprog -o log.txt adds details).`},
}

// Causes returns the catalog, in the order of docs/design.md, with each cause's
// signatures filled in.
func Causes() []Cause {
	out := make([]Cause, len(causes))
	for i, c := range causes {
		c.Signatures = nil
		for _, s := range signatures {
			if s.cause == c.ID || sharedWith(s, c.ID) {
				c.Signatures = append(c.Signatures, s.text)
			}
		}
		out[i] = c
	}
	return out
}

// Lookup returns the cause with the given ID.
func Lookup(id string) (Cause, bool) {
	for _, c := range Causes() {
		if c.ID == id {
			return c, true
		}
	}
	return Cause{}, false
}

func cause(id string) *Cause {
	for i := range causes {
		if causes[i].ID == id {
			return &causes[i]
		}
	}
	panic("diagnose: unknown cause " + id)
}

// sharedWith reports whether s, catalogued under another cause, is printed
// for cause id too: the messages that only facts tell apart.
func sharedWith(s sig, id string) bool {
	switch {
	case s.kind == kEPERM:
		return id == "kernel_lockdown" || id == "bsd_securelevel"
	case s.kind == kMmap && s.cause == "devmem_restricted" && strings.Contains(s.text, "not permitted"):
		return id == "kernel_lockdown"
	}
	return false
}
