package diagnose

// Tri is a fact that may be unknown.
type Tri int8

const (
	Unknown Tri = iota
	No
	Yes
)

func (t Tri) String() string {
	switch t {
	case No:
		return "no"
	case Yes:
		return "yes"
	}
	return "unknown"
}

// Where lockdown comes from (Facts.LockdownSource).
const (
	LockdownKconfig    = "kconfig"    // CONFIG_LOCK_DOWN_KERNEL_FORCE_*
	LockdownCmdline    = "cmdline"    // lockdown= on the kernel command line
	LockdownSecureBoot = "secureboot" // Secure Boot with CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT
)

// Facts are what libreflash's checks saw on the machine where the log was
// made. They turn flashprog's ambiguous messages into one cause: "Operation
// not permitted" is not_root for a user and kernel_lockdown for root under
// lockdown. The zero value means "nothing known" (a log from elsewhere, or
// --offline), and Diagnose then ranks the candidates instead.
type Facts struct {
	Available bool // the fields below were observed on this machine

	EUID     int    // effective uid of the flasher run
	Lockdown string // "none", "integrity", "confidentiality"; "" when unknown
	// LockdownSource is what switches lockdown on (LockdownKconfig,
	// LockdownCmdline, LockdownSecureBoot); "" when none or unknown. It
	// picks the fix: forced lockdown is not lifted by turning Secure Boot off.
	LockdownSource string `json:",omitempty"`
	// DevmemPresent: the system shows a /dev/mem device. No means no
	// prepare action can help (iomem=relaxed loosens /dev/mem, it cannot
	// create it).
	DevmemPresent  Tri
	SecureBoot     Tri
	IomemRelaxed   Tri // iomem=relaxed in effect on the running kernel
	StrictDevmem   Tri // CONFIG_STRICT_DEVMEM
	IOStrictDevmem Tri // CONFIG_IO_STRICT_DEVMEM
	IOPLConfig     Tri // CONFIG_X86_IOPL_IOPERM
	// Drivers are loaded drivers that claim the chipset's SPI/RCRB range
	// (lpc_ich, spi_intel_pci, …).
	Drivers []string
	// Securelevel is the BSD kern.securelevel; meaningful when HasSecurelevel.
	Securelevel    int
	HasSecurelevel bool
	// EUIDNotOfRun says EUID is libreflash's own, not the flasher run's: a
	// log diagnosed after the fact. The machine facts (lockdown, …) still
	// hold, the uid does not.
	EUIDNotOfRun bool `json:",omitempty"`
}
