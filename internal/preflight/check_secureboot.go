package preflight

import (
	"fmt"
	"os"
	"strings"

	"libreflash/internal/diagnose"
)

var secureBootCheck = definition{id: "secureboot", run: checkSecureBoot, informational: internalOnly}

// The EFI global variable GUID; efivarfs names a variable Name-GUID.
const efiGlobal = "8be4df61-93ca-11d2-aa0d-00e098032b8c"

// secureBoot is the firmware's Secure Boot state as efivarfs shows it.
type secureBoot struct {
	efi       bool // booted via UEFI (/sys/firmware/efi exists)
	mounted   bool // efivarfs readable
	known     bool // SecureBoot variable read
	enabled   bool
	setupMode bool
	err       string
}

// enforcing: Secure Boot verifies what boots (enabled and not in setup mode,
// where the firmware has no platform key and enforces nothing).
func (b secureBoot) enforcing() bool { return b.known && b.enabled && !b.setupMode }

// efiVarByte reads an efivarfs variable: 4 bytes of attributes, then the
// value, one byte for these booleans.
func efiVarByte(e *Env, name string) (byte, bool, error) {
	b, err := e.readFile("/sys/firmware/efi/efivars/" + name + "-" + efiGlobal)
	if err != nil {
		return 0, false, err
	}
	if len(b) < 5 {
		return 0, false, fmt.Errorf("%s: %d bytes, want attributes and a value", name, len(b))
	}
	return b[4], true, nil
}

func readSecureBoot(e *Env) secureBoot {
	var s secureBoot
	if !e.exists("/sys/firmware/efi") {
		return s
	}
	s.efi = true
	ents, err := os.ReadDir(e.Path("/sys/firmware/efi/efivars"))
	s.mounted = err == nil && len(ents) > 0
	if !s.mounted {
		return s
	}
	v, ok, err := efiVarByte(e, "SecureBoot")
	switch {
	case os.IsNotExist(err):
		s.known = true // firmware without Secure Boot support
		return s
	case err != nil:
		s.err = err.Error()
		return s
	}
	s.known, s.enabled = ok, v == 1
	if m, ok, _ := efiVarByte(e, "SetupMode"); ok {
		s.setupMode = m == 1
	}
	return s
}

func checkSecureBoot(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS}
	}
	b := s.secure
	switch {
	case !b.efi:
		return Check{Status: Pass, Summary: "legacy BIOS boot (no /sys/firmware/efi), no Secure Boot"}
	case !b.mounted:
		return Check{
			Status:  Warn,
			Summary: "UEFI boot, but efivarfs is not mounted: Secure Boot state unknown",
			Fix:     "mount -t efivarfs efivarfs /sys/firmware/efi/efivars, then run the check again",
		}
	case b.err != "":
		return Check{Status: Warn, Summary: "UEFI boot, Secure Boot state unreadable", Detail: b.err}
	case b.enforcing():
		c := Check{
			Status:  Fail,
			Summary: "Secure Boot is enabled",
			Detail: "With Secure Boot on, most distribution kernels lock themselves down, which " +
				"refuses /dev/mem and I/O port access to root; it also interferes with low-memory access.",
			Fix: "1. Reboot into the firmware setup (often F1, F2 or Del at power-on; or systemctl reboot --firmware-setup).\n" +
				"2. Disable Secure Boot, save and boot again.\n" +
				"3. Run libreflash check again.",
			Docs: docsDevmem,
		}
		if k := s.lock.kind; k == diagnose.LockdownKconfig || k == diagnose.LockdownCmdline {
			// The fix diagnose gives for the lockdown (its catalog):
			// turning Secure Boot off alone changes nothing here.
			c.Detail += " Here lockdown does not come from Secure Boot: " + s.lock.source + ", so disabling Secure Boot alone does not lift it."
			c.Fix += "\n4. That alone does not lift kernel lockdown here (see the lockdown check): " +
				strings.ReplaceAll(diagnose.Fix("kernel_lockdown", diagnose.Failed, diagnose.Facts{Available: true, LockdownSource: k}), "\n", " ")
		}
		return c
	case b.enabled && b.setupMode:
		return Check{Status: Pass, Summary: "UEFI boot, Secure Boot in setup mode (not enforcing)"}
	}
	return Check{Status: Pass, Summary: "UEFI boot, Secure Boot disabled"}
}
