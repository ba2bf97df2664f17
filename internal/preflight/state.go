package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/kcmdline"
	"libreflash/internal/runner"
)

// state is what the checks share: the files every check reads, parsed once,
// and the facts the checks fill in as they go.
type state struct {
	ctx        context.Context
	env        *Env
	opts       Options
	programmer string // without parameters
	linux      bool

	release  string
	kconfig  *KConfig
	cmdline  []kcmdline.Param
	iomem    []IomemEntry
	modules  []string
	euid     int
	secure   secureBoot
	lock     lockdown
	chip     chipset
	claimers []string // drivers holding the chipset's range (modules and iomem)

	flasher *runner.Flasher
	board   *BoardReport // the board check's findings

	facts diagnose.Facts
}

func gather(ctx context.Context, e *Env, o Options, programmer string) *state {
	s := &state{ctx: ctx, env: e, opts: o, programmer: programmer, linux: e.GOOS == "linux"}
	s.euid = e.Geteuid()
	s.facts.EUID = s.euid
	if !s.linux {
		return s
	}
	h := e.host()
	s.release = h.KernelRelease()
	s.kconfig = loadKConfig(e, s.release)
	s.cmdline, _ = h.Cmdline()
	if b, err := e.readFile("/proc/iomem"); err == nil {
		s.iomem = ParseIomem(b)
	}
	s.modules, _ = h.Modules()
	s.secure = readSecureBoot(e)
	s.lock = readLockdown(s)
	s.chip = findChipset(e)
	s.claimers = findClaimers(s)

	s.facts.SecureBoot = diagnose.No
	if s.secure.known {
		s.facts.SecureBoot = triOf(s.secure.enforcing())
	} else if s.secure.efi {
		s.facts.SecureBoot = diagnose.Unknown
	}
	s.facts.Lockdown = s.lock.mode
	if s.lock.mode != "none" {
		s.facts.LockdownSource = s.lock.kind
	}
	if _, err := e.Stat(e.Path("/dev/mem")); err == nil {
		s.facts.DevmemPresent = diagnose.Yes
	} else if errors.Is(err, os.ErrNotExist) {
		s.facts.DevmemPresent = diagnose.No
	}
	s.facts.IomemRelaxed = triOf(s.iomemRelaxed())
	s.facts.StrictDevmem = s.kconfig.Tri("CONFIG_STRICT_DEVMEM")
	s.facts.IOStrictDevmem = s.kconfig.Tri("CONFIG_IO_STRICT_DEVMEM")
	s.facts.IOPLConfig = s.kconfig.Tri("CONFIG_X86_IOPL_IOPERM")
	s.facts.Drivers = s.claimers
	return s
}

func triOf(b bool) diagnose.Tri {
	if b {
		return diagnose.Yes
	}
	return diagnose.No
}

// iomemRelaxed: iomem=relaxed on the running kernel's command line.
func (s *state) iomemRelaxed() bool { return kcmdline.Has(s.cmdline, "iomem", "relaxed") }

// conflictingModules are the drivers that claim, or make a resource for,
// the chipset's SPI or RCRB range (names as /proc/modules prints them;
// kernels renamed intel_spi to spi_intel in 5.19). lpc_ich only describes
// the range; iTCO_wdt (its watchdog cell, GCS register inside the RCRB) and
// the SPI drivers request it busy, which IO_STRICT_DEVMEM refuses to share.
var conflictingModules = []string{
	"lpc_ich", "iTCO_wdt", "intel_spi", "intel_spi_pci", "intel_spi_platform",
	"spi_intel", "spi_intel_pci", "spi_intel_platform",
}

// busyModules are those of conflictingModules that request the range busy.
var busyModules = []string{
	"iTCO_wdt", "intel_spi", "intel_spi_pci", "intel_spi_platform",
	"spi_intel", "spi_intel_pci", "spi_intel_platform",
}

// claimNames are /proc/iomem owners inside the chipset's window.
var claimNames = []string{"lpc_ich", "iTCO_wdt", "intel-spi", "intel_spi", "spi-intel", "spi_intel", "0000:00:1f.5"}

func isClaimName(n string) bool {
	n, _, _ = strings.Cut(n, " ")
	for _, c := range claimNames {
		if n == c || strings.HasPrefix(n, c+".") {
			return true
		}
	}
	return false
}

// addressesHidden: /proc/iomem read by a user other than root shows zeros.
func (s *state) addressesHidden() bool {
	for _, r := range s.iomem {
		if r.End != 0 {
			return false
		}
	}
	return true
}

// busyClaims are the driver requests in /proc/iomem that overlap the
// chipset's window (or, when it is unknown, any of claimNames). A request
// shows as a child with the same range as the resource it requests, named
// "<device> <resource>" by devm_ioremap_resource: "iTCO_wdt.1.auto
// iTCO_wdt.1.auto" under "iTCO_wdt.1.auto".
func (s *state) busyClaims() []IomemEntry {
	var out []IomemEntry
	for i, r := range s.iomem {
		if i == 0 || !isClaimName(r.Name) || r.End == 0 {
			continue
		}
		p := s.iomem[i-1]
		if p.Depth != r.Depth-1 || p.Start != r.Start || p.End != r.End {
			continue
		}
		if s.chip.length > 0 && !r.overlaps(s.chip.base, s.chip.base+s.chip.length-1) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// findClaimers lists the loaded conflicting modules and the drivers that
// request part of the chipset's window busy.
func findClaimers(s *state) []string {
	var out []string
	for _, m := range s.modules {
		if slices.Contains(conflictingModules, m) {
			out = append(out, m)
		}
	}
	for _, r := range s.busyClaims() {
		// "iTCO_wdt.0.auto iTCO_wdt.0.auto" is the platform device
		// iTCO_wdt.0.auto of driver iTCO_wdt; a PCI address names no
		// driver (the module list has it).
		name, _, _ := strings.Cut(r.Name, " ")
		if strings.HasPrefix(name, "0000:") {
			continue
		}
		name, _, _ = strings.Cut(name, ".")
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// busyConflict predicts that IO_STRICT_DEVMEM will refuse the window: a
// driver's busy request is visible in it, or, with addresses hidden, a
// driver that makes such requests is loaded.
func (s *state) busyConflict() (bool, string) {
	if b := s.busyClaims(); len(b) > 0 {
		var parts []string
		for _, r := range b {
			parts = append(parts, fmt.Sprintf("%q at %x-%x", r.Name, r.Start, r.End))
		}
		return true, "/proc/iomem shows a driver holding " + strings.Join(parts, ", ")
	}
	if s.addressesHidden() || s.chip.length == 0 {
		var mods []string
		for _, m := range s.modules {
			if slices.Contains(busyModules, m) {
				mods = append(mods, m)
			}
		}
		if len(mods) > 0 {
			return true, strings.Join(mods, ", ") + " loaded (it requests part of the chipset's range)"
		}
	}
	return false, ""
}
