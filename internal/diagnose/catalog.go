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

// Cause is one entry of the catalog: what a class of flasher messages means,
// what to do about it, and the facts about it that the pipeline and the
// commands act on.
type Cause struct {
	ID       string
	Summary  string // one line
	Fix      string // numbered steps, one per line: the fix when neither the outcome nor machine facts pick another
	Docs     string // where the fix is documented
	Severity string // severity when this cause is behind a failed run
	// Outcomes holds the fix for the outcomes whose advice differs from
	// Fix (what to do with a chip in an unknown state is not what to do
	// with an unchanged one). Fix(id, outcome, facts) picks the branch.
	Outcomes map[string]string `json:",omitempty"`
	// StopsBeforeChip: the flashers print it before they erase or write
	// anything (access to the chipset refused, no chip, a bad command line
	// or image), so a write that failed for this cause left the chip as it
	// was.
	StopsBeforeChip bool
	// NeedsFacts: other causes print the same message, and machine facts
	// (uid, lockdown, kernel config) decide between them.
	NeedsFacts bool
	// Preparable: a reversible 'libreflash prepare' action (iomem=relaxed,
	// unloading drivers, the BSD securelevel) lifts it, unless machine
	// facts say otherwise (see Preparable).
	Preparable bool
	// Checks are the IDs of the preflight checks whose failure this cause
	// explains (see CheckCause).
	Checks []string `json:",omitempty"`
	// Signatures are the message texts (as printed, fields elided) that point
	// at this cause, for documentation; matching uses the same strings.
	Signatures []string

	// variants are fixes that replace Fix when machine facts say which
	// branch of it applies, first match wins.
	variants []variant
}

// variant is a fix chosen by machine facts.
type variant struct {
	when func(Facts) bool
	fix  string
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
		StopsBeforeChip: true, NeedsFacts: true, Preparable: true, Checks: []string{"devmem"},
		variants: []variant{{when: func(f Facts) bool { return f.IomemRelaxed == Yes && len(f.Drivers) > 0 }, fix: fixDevmemRelaxedDrivers}, {when: func(f Facts) bool { return f.IomemRelaxed == Yes }, fix: fixDevmemRelaxed}},
		Summary:  "the kernel refused the flasher access to chipset memory through /dev/mem (CONFIG_STRICT_DEVMEM / CONFIG_IO_STRICT_DEVMEM, or a driver such as lpc_ich holding the range)",
		Fix: `1. Unload the driver that claims the SPI controller: sudo modprobe -r lpc_ich (or spi_intel_pci), then run the flasher again.
2. If that is not enough, add iomem=relaxed to the kernel command line (sudo libreflash prepare iomem-relaxed does it reversibly), reboot and run again.
3. After flashing, remove iomem=relaxed again (sudo libreflash restore).`},
	{ID: "devmem_missing", Severity: Fatal, Docs: docLBDevmem,
		StopsBeforeChip: true, NeedsFacts: true,
		Summary: "the system has no /dev/mem: the kernel is built without CONFIG_DEVMEM, or the flasher ran in a container or sandbox that hides it",
		Fix: `1. Run the flasher on the machine itself, as root, not in a container, toolbox or VM.
2. If /dev/mem is missing there too, boot a kernel built with CONFIG_DEVMEM=y (most distribution kernels are).
3. iomem=relaxed and libreflash prepare cannot help: they loosen /dev/mem, they cannot create it.`},
	{ID: "kernel_lockdown", Severity: Fatal, Docs: docLBDevmem,
		StopsBeforeChip: true, NeedsFacts: true, Checks: []string{"lockdown", "secureboot"},
		variants: []variant{{when: func(f Facts) bool { return f.LockdownSource == LockdownKconfig }, fix: fixLockdownKconfig}, {when: func(f Facts) bool { return f.LockdownSource == LockdownCmdline }, fix: fixLockdownCmdline}, {when: func(f Facts) bool { return f.LockdownSource == LockdownSecureBoot }, fix: fixLockdownSecureBoot}, {when: func(f Facts) bool { return f.Available && f.SecureBoot == No }, fix: fixLockdownNotSecureBoot}},
		Summary:  "kernel lockdown (usually switched on by Secure Boot) forbids raw I/O ports and /dev/mem, even for root",
		Fix: `1. Check it: cat /sys/kernel/security/lockdown shows the active mode in brackets; mokutil --sb-state shows Secure Boot.
2. Disable Secure Boot in the firmware setup, or boot without lockdown (remove lockdown= from the kernel command line).
3. Reboot and run the flasher again as root.`},
	{ID: "iopl_unavailable", Severity: Fatal, Docs: docLBDevmem,
		StopsBeforeChip: true, Checks: []string{"iopl"},
		Summary: "the running kernel was built without CONFIG_X86_IOPL_IOPERM, so no program can get I/O port access (\"Function not implemented\")",
		Fix: `1. Confirm it: grep IOPL /boot/config-$(uname -r) (or zcat /proc/config.gz) shows "# CONFIG_X86_IOPL_IOPERM is not set".
2. Boot a kernel built with CONFIG_X86_IOPL_IOPERM=y (most distribution kernels are), or rebuild yours with it.
3. Run the flasher again as root.`},
	{ID: "not_root", Severity: Fatal, Docs: docFPFAQ,
		StopsBeforeChip: true, NeedsFacts: true, Checks: []string{"root"},
		Summary: "the flasher did not run as root (or lacked CAP_SYS_RAWIO), so it could not reach the chipset",
		Fix: `1. Run it with root rights: sudo flashprog -p internal ... (or sudo libreflash ...).
2. Inside a container or a sandboxed service, run it on the host instead: it needs CAP_SYS_RAWIO and real /dev/mem.`},
	{ID: "bsd_securelevel", Severity: Fatal, Docs: docFPFAQ,
		StopsBeforeChip: true, NeedsFacts: true, Preparable: true, Checks: []string{"bsd_securelevel"},
		Summary: "the BSD securelevel is too high for a program to get I/O privileges or map /dev/mem",
		Fix: `1. Check it: sysctl kern.securelevel.
2. OpenBSD: set securelevel=-1 in /etc/rc.securelevel and reboot; FreeBSD: set kern_securelevel="-1" in /etc/rc.conf and reboot; NetBSD: boot single-user or use a kernel with options INSECURE.
3. Run the flasher as root, then restore the securelevel (sudo libreflash restore undoes what libreflash changed).`},
	{ID: "pat_conflict", Severity: Fatal, Docs: docFPFAQ,
		StopsBeforeChip: true,
		Summary:         "mapping /dev/mem failed with \"Resource temporarily unavailable\": the range is already mapped with another caching mode (x86 PAT)",
		Fix: `1. Add nopat to the kernel command line and reboot.
2. Run the flasher again; remove nopat afterwards.`},
	{ID: "bios_lock", Severity: Fatal, Docs: docFPFAQ,
		Checks:  []string{"spi_lock"},
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
		StopsBeforeChip: true,
		Summary:         "no flash chip was detected",
		Fix: `1. Check that the flasher supports your chipset and chip: flashprog -L.
2. With -p internal on a laptop or an unknown board, read the flasher's earlier warnings: a disabled bus or a missing board enable hides the chip.
3. With an external programmer, check wiring, clip seating and supply voltage, and probe again.
4. To read an unrecognised chip anyway: flashprog -p ... -f -r dump.rom -c <chip name> (the data may be garbage; never write that way).`},
	{ID: "multiple_chips", Severity: Fatal, Docs: docFRMan,
		StopsBeforeChip: true,
		Summary:         "several chip definitions match the detected chip ID, so the flasher will not guess",
		Fix: `1. Read the chip marking (or the board's documentation) to find the exact part.
2. Run the flasher again with -c "<name>" using one of the names it listed.`},
	{ID: "image_size_mismatch", Severity: Fatal, Docs: docLBFAQ,
		StopsBeforeChip: true,
		Summary:         "the image file is not the size of the flash chip",
		Fix: `1. Find the chip size: flashprog -p internal --flash-size.
2. Use the Libreboot image built for your board and that chip size (boards ship with several sizes).
3. Only pad or cut an image when the install guide for your board says so.`},
	{ID: "verify_failed", Severity: Fatal, Docs: docLBInstall,
		Outcomes: map[string]string{UnknownState: fixHalfWritten, Incomplete: fixHalfWritten, RolledBack: fixRolledBack, Unchanged: fixUnchanged, Success: fixRecovered},
		Summary:  "the chip contents differ from the image",
		Fix: `1. Check that you compared against the right file: the one written, or the backup if it was restored.
2. On descriptor-locked machines verify only the BIOS region (--ifd -i bios); the other regions may be unreadable.
3. If this followed a write, treat the chip as half written: do not reboot or power off until a write verifies.`},
	{ID: "write_failed", Severity: Fatal, Docs: docLBInstall,
		Outcomes: map[string]string{UnknownState: fixHalfWritten, Incomplete: fixHalfWritten, RolledBack: fixRolledBack, Unchanged: fixUnchanged, Failed: fixWriteNoWord, Success: fixRecovered},
		Summary:  "erasing or writing the chip failed",
		Fix:      fixHalfWritten},
	{ID: "unsupported_chipset", Severity: Fatal, Docs: docFPFAQ,
		StopsBeforeChip: true,
		Summary:         "the chipset or board is unknown to, or not supported by, this flasher version",
		Fix: `1. Check the supported list of your flasher: flashprog -L.
2. Update to the newest flashprog release; support is added over time.
3. If it is still unsupported, flash with an external programmer.`},
	{ID: "board_mismatch", Severity: Fatal, Docs: docLBInstall,
		StopsBeforeChip: true,
		Summary:         "the image is for a different board than the one running (coreboot board ID check)",
		Fix: `1. Make sure the ROM was built for exactly this machine (same model and variant).
2. Only if you are sure, run again with -p internal:boardmismatch=force (libreflash: --force-board).`},
	{ID: "laptop_refused", Severity: Fatal, Docs: docFPLaptops,
		StopsBeforeChip: true,
		Summary:         "the flasher detected a laptop it does not know and disabled the buses it could reach the chip through",
		Fix: `1. Check that your laptop is supported for internal flashing by Libreboot.
2. If it is, and the SMBIOS data are simply wrong, add -p internal:laptop=this_is_not_a_laptop; if it is a real laptop, -p internal:laptop=force_I_want_a_brick is the flasher's own override, at your risk.
3. Otherwise use an external programmer.`},
	{ID: "programmer_not_found", Severity: Fatal, Docs: docLBSPI,
		StopsBeforeChip: true,
		Summary:         "the external programmer (USB or serial device) was not found or could not be opened",
		Fix: `1. Check the programmer is plugged in: lsusb (or ls /dev/ttyUSB* /dev/ttyACM* for serial ones).
2. Run the flasher as root, or install the udev rule that lets your user open the device.
3. Check the -p name and its dev=/serial= parameter, and unload drivers that grab the device.`},
	{ID: "usage_error", Severity: Fatal, Docs: docFRMan,
		StopsBeforeChip: true,
		Summary:         "the flasher was called with arguments it does not accept",
		Fix: `1. Read the flasher's message just above: it names the bad option, parameter, region or file.
2. Correct the command line (flashprog --help, man flashprog) and run again.`},
	{ID: "flasher_missing", Severity: Fatal, Docs: docLBInstall,
		StopsBeforeChip: true, Checks: []string{"flasher"},
		Summary: "no flashprog or flashrom program was found",
		Fix: `1. Install flashprog from your distribution, or build it from source (https://flashprog.org).
2. Make sure it is on root's PATH (sudo uses a restricted PATH), or pass --flasher /path/to/flashprog.`},
	{ID: "unknown", Severity: Fatal, Docs: docFPFAQ,
		Outcomes: map[string]string{UnknownState: fixHalfWritten, Incomplete: fixHalfWritten, RolledBack: fixRolledBack, Unchanged: fixUnchanged, Success: fixRecovered},
		Summary:  "the run failed for a reason libreflash does not recognise",
		Fix: `1. Read the last lines of the log (shown as evidence).
2. Ask for help with the complete log (flashprog -o log.txt adds details).`},
}

// Fixes that depend on the chip's state after the runs (the outcome).
const (
	fixHalfWritten = `1. DO NOT REBOOT OR POWER OFF: the chip may be half written, and the machine may not start again.
2. Write the verified backup back (flashprog -p internal -w backup.rom, with the same region options as the failed write), or retry the image, until a write verifies.
3. If every write fails, keep the machine running, get help (Libreboot IRC) and have an external programmer ready.`
	fixUnchanged = `1. Nothing was written: the chip holds the firmware it had, and you may reboot.
2. Fix the cause, then write again.`
	fixRolledBack = `1. The chip holds the verified backup again: you may reboot.
2. Fix the cause, then write again.`
	fixWriteNoWord = `1. The flasher did not say whether it changed the chip: do not reboot yet. Verify it against the backup (flashprog -p internal -v backup.rom, with the same region options).
2. If that verifies, nothing was changed: fix the cause and write again. If it does not, write the backup back until a write verifies.`
	fixRecovered = `1. Nothing to do: the flasher worked around the failure and the write verified.
2. If it happens on every write, the chip may be wearing out; keep an external programmer in mind.`
)

// Fixes that depend on machine facts.
const (
	fixDevmemRelaxedDrivers = `1. iomem=relaxed is already in effect; a driver still holds the chipset range: unload it (sudo modprobe -r lpc_ich, or spi_intel_pci; sudo libreflash prepare unload-drivers does it), then run the flasher again.
2. After flashing, load the drivers again (sudo libreflash restore).`
	fixDevmemRelaxed = `1. iomem=relaxed is already in effect, so STRICT_DEVMEM is not what refused the mapping: check kernel lockdown (cat /sys/kernel/security/lockdown) and that the flasher ran as root on the machine itself.
2. If neither applies, boot a kernel built without CONFIG_STRICT_DEVMEM and run again.`
	fixLockdownKconfig = `1. This kernel is built with forced lockdown (CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY or _CONFIDENTIALITY): no boot option and no Secure Boot setting lifts it.
2. Boot a kernel built without forced lockdown (CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE=y; most distribution kernels are), then run the flasher again as root.`
	fixLockdownCmdline = `1. Remove lockdown= from the kernel command line (the bootloader configuration) and reboot.
2. Run the flasher again as root.`
	fixLockdownSecureBoot = `1. Secure Boot locks this kernel down: disable Secure Boot in the firmware setup.
2. Reboot and run the flasher again as root.`
	fixLockdownNotSecureBoot = `1. Secure Boot is off, so something else locks the kernel down: look for lockdown= in /proc/cmdline and for CONFIG_LOCK_DOWN_KERNEL_FORCE_ in the kernel config (/boot/config-$(uname -r)).
2. Remove lockdown= and reboot, or boot a kernel built without forced lockdown; then run the flasher again as root.`
)

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
	if c := find(id); c != nil {
		return c
	}
	panic("diagnose: unknown cause " + id)
}

func find(id string) *Cause {
	for i := range causes {
		if causes[i].ID == id {
			return &causes[i]
		}
	}
	return nil
}

// StopsBeforeChip reports whether the flashers print cause id before they
// erase or write anything, so a write that failed for it left the chip as
// it was. False for an unknown ID.
func StopsBeforeChip(id string) bool {
	c := find(id)
	return c != nil && c.StopsBeforeChip
}

// NeedsFacts reports whether other causes print the same messages as cause
// id, so that machine facts (uid, lockdown, kernel config) decide between
// them: a diagnosis resting on it is worth redoing with Facts.
func NeedsFacts(id string) bool {
	c := find(id)
	return c != nil && c.NeedsFacts
}

// Preparable reports whether a reversible 'libreflash prepare' action lifts
// cause id on a machine with facts f: iomem=relaxed and unloading drivers
// for a restricted /dev/mem (not once iomem=relaxed is in effect with no
// driver left to unload), the securelevel on a BSD. A missing /dev/mem,
// lockdown, root and firmware locks need the user.
func Preparable(id string, f Facts) bool {
	c := find(id)
	if c == nil || !c.Preparable {
		return false
	}
	if id == "devmem_restricted" && f.IomemRelaxed == Yes && len(f.Drivers) == 0 {
		return false
	}
	return true
}

// CheckCause returns the cause that a failed preflight check (by its ID)
// stands for, given the facts the checks saw: the "devmem" check fails for a
// restricted /dev/mem or a missing one, and "devmem" under active lockdown
// is lockdown's doing. "" when no cause belongs to the check (power).
func CheckCause(check string, f Facts) string {
	switch {
	case check == "devmem" && f.DevmemPresent == No:
		return "devmem_missing"
	case check == "devmem" && lockdownActive(f.Lockdown):
		return "kernel_lockdown"
	}
	for _, c := range causes {
		for _, id := range c.Checks {
			if id == check {
				return c.ID
			}
		}
	}
	return ""
}

// Fix returns the steps to fix cause id for the outcome at hand (the
// chip's state: Success, Failed, Unchanged, RolledBack, UnknownState,
// Incomplete) on a machine with facts f (the zero Facts when nothing is
// known). Only the branch that applies is returned: an unknown-state fix
// never says "you may reboot", an unchanged one never "do not reboot"; with
// lockdown forced by the kernel build it does not say "turn Secure Boot
// off". "" for an unknown ID.
func Fix(id, outcome string, f Facts) string {
	c := find(id)
	if c == nil {
		return ""
	}
	if fix, ok := c.Outcomes[outcome]; ok {
		return fix
	}
	if outcome == UnknownState {
		// Whatever the cause, a chip that may be half written comes first.
		return fixHalfWritten
	}
	if f.Available {
		for _, v := range c.variants {
			if v.when(f) {
				return v.fix
			}
		}
	}
	return c.Fix
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
