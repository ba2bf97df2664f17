package restore

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"strings"
)

// Check is the part of a preflight check that deciding what to prepare
// needs: its ID and status ("pass", "warn", "fail", "skip").
type Check struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// Derived is what prepare should do about a check report.
type Derived struct {
	Actions []string `json:"actions"`
	// Notes explain blockers that only a firmware setting changes.
	Notes []string `json:"notes,omitempty"`
}

// Firmware explanations: these cannot be changed from the running system,
// and pretending otherwise would only cost the user a reboot.
const (
	NoteSecureBoot = "SecureBoot is on, and the kernel locks down /dev/mem under it: no setting of the running system changes that. " +
		"Turn SecureBoot off in the firmware setup (or run 'mokutil --disable-validation' on a system booted through shim), reboot, and run libreflash again."
	NoteLockdown = "kernel lockdown is active, so /dev/mem and I/O ports are refused even to root. " +
		"It follows SecureBoot (or lockdown= on the command line): turn SecureBoot off in the firmware setup, reboot, and run libreflash again."
)

// Derive turns check results into the reversible actions that would unblock
// internal flashing:
//   - devmem failing without iomem=relaxed in effect → iomem-relaxed, and
//     unload-drivers when a driver claims the flash controller;
//   - bsd_securelevel failing → bsd-securelevel;
//   - lockdown or secureboot failing → an explanation only.
//
// With no checks (nil), it decides from what it reads under the root:
// CONFIG_STRICT_DEVMEM, /proc/cmdline, /proc/modules, the lockdown file.
func (m *Manager) Derive(checks []Check) Derived {
	var d Derived
	failing := map[string]bool{}
	for _, c := range checks {
		if c.Status == "fail" {
			failing[c.ID] = true
		}
	}
	if checks == nil {
		strict := m.strictDevmem()
		on, _ := m.iomemInEffect()
		failing["devmem"] = strict && !on
		failing["lockdown"] = m.lockdownActive()
		failing["bsd_securelevel"] = m.bsdFlavour() != ""
	}
	if failing["devmem"] {
		if on, _ := m.iomemInEffect(); !on {
			d.Actions = append(d.Actions, ActionIomem)
		}
		if len(m.ConflictingLoaded()) > 0 {
			d.Actions = append(d.Actions, ActionDrivers)
		}
	}
	if failing["bsd_securelevel"] {
		d.Actions = append(d.Actions, ActionSecurelevel)
	}
	if failing["secureboot"] {
		d.Notes = append(d.Notes, NoteSecureBoot)
	} else if failing["lockdown"] {
		d.Notes = append(d.Notes, NoteLockdown)
	}
	return d
}

// strictDevmem reads CONFIG_STRICT_DEVMEM from /proc/config.gz or
// /boot/config-<release>; when neither is readable it assumes yes, as every
// mainstream distribution kernel sets it.
func (m *Manager) strictDevmem() bool {
	var r io.Reader
	if b, err := m.readHost("/proc/config.gz"); err == nil {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			r = zr
		}
	}
	if r == nil {
		b, err := m.readHost("/boot/config-" + m.kernelRelease())
		if err != nil {
			return true
		}
		r = bytes.NewReader(b)
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if sc.Text() == "CONFIG_STRICT_DEVMEM=y" {
			return true
		}
	}
	return false
}

// lockdownActive reads /sys/kernel/security/lockdown ("[none] integrity
// confidentiality").
func (m *Manager) lockdownActive() bool {
	b, err := m.readHost("/sys/kernel/security/lockdown")
	if err != nil {
		return false
	}
	return !strings.Contains(string(b), "[none]") && strings.Contains(string(b), "[")
}
