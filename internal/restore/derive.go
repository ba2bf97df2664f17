package restore

import (
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/preflight"
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

// DeriveFromReport turns a preflight report into the reversible actions that
// would unblock internal flashing, and the explanations of what only the
// firmware setup changes:
//   - devmem failing: iomem-relaxed unless it is already in effect, and
//     unload-drivers when a driver claims the flash controller (or when the
//     checks could not tell: the plan then reads /proc itself);
//   - bsd_securelevel failing: bsd-securelevel;
//   - secureboot or lockdown failing: an explanation only.
func DeriveFromReport(r *preflight.Report) Derived {
	var checks []Check
	for _, c := range r.Checks {
		checks = append(checks, Check{ID: c.ID, Status: string(c.Status)})
	}
	f := r.Facts
	return WithFacts(derive(checks, f.IomemRelaxed == diagnose.Yes, !f.Available || len(f.Drivers) > 0), f)
}

// WithFacts makes the Secure Boot and lockdown notes say what lifts
// lockdown on this machine, as diagnose's catalog does (diagnose.Fix):
// lockdown forced by the kernel build or set on the command line is not
// lifted by turning Secure Boot off, whatever Secure Boot's state.
func WithFacts(d Derived, f diagnose.Facts) Derived {
	if !f.Available || f.LockdownSource == "" || f.LockdownSource == diagnose.LockdownSecureBoot {
		return d
	}
	notes := make([]string, 0, len(d.Notes))
	for _, n := range d.Notes {
		if n == NoteSecureBoot || n == NoteLockdown {
			n = "kernel lockdown is active, so /dev/mem and I/O ports are refused even to root, and turning Secure Boot off does not change that: " +
				strings.ReplaceAll(diagnose.Fix("kernel_lockdown", diagnose.Failed, f), "\n", " ")
		}
		notes = append(notes, n)
	}
	d.Notes = notes
	return d
}

func derive(checks []Check, iomemOn, drivers bool) Derived {
	d := Derived{Actions: []string{}}
	failing := map[string]bool{}
	for _, c := range checks {
		if c.Status == "fail" {
			failing[c.ID] = true
		}
	}
	if failing["devmem"] {
		if !iomemOn {
			d.Actions = append(d.Actions, ActionIomem)
		}
		if drivers {
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
