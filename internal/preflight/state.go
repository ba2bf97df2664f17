package preflight

import (
	"context"
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

	facts diagnose.Facts
}

func gather(ctx context.Context, e *Env, o Options, programmer string) *state {
	s := &state{ctx: ctx, env: e, opts: o, programmer: programmer, linux: e.GOOS == "linux"}
	s.euid = e.Geteuid()
	s.facts.EUID = s.euid
	if !s.linux {
		return s
	}
	s.release, _ = e.readString("/proc/sys/kernel/osrelease")
	s.kconfig = loadKConfig(e, s.release)
	if b, err := e.readFile("/proc/cmdline"); err == nil {
		s.cmdline = kcmdline.Parse(string(b))
	}
	if b, err := e.readFile("/proc/iomem"); err == nil {
		s.iomem = ParseIomem(b)
	}
	if b, err := e.readFile("/proc/modules"); err == nil {
		s.modules = parseModules(b)
	}
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

// conflictingModules are the drivers that claim the chipset's SPI or RCRB
// range (names as /proc/modules prints them; kernels renamed intel_spi to
// spi_intel in 5.19).
var conflictingModules = []string{
	"lpc_ich", "intel_spi", "intel_spi_pci", "intel_spi_platform",
	"spi_intel", "spi_intel_pci", "spi_intel_platform",
}

// claimNames are /proc/iomem owners that mean a driver holds (part of) the
// chipset's range: lpc_ich's watchdog cell reserves the GCS register inside
// the RCRB, the SPI drivers their controller.
var claimNames = []string{"lpc_ich", "iTCO_wdt", "intel-spi", "intel_spi", "spi-intel", "spi_intel", "0000:00:1f.5"}

func isClaimName(n string) bool {
	for _, c := range claimNames {
		if n == c || strings.HasPrefix(n, c+".") {
			return true
		}
	}
	return false
}

// findClaimers lists the loaded conflicting modules and the drivers that
// hold a range inside the chipset's window in /proc/iomem.
func findClaimers(s *state) []string {
	var out []string
	for _, m := range s.modules {
		if slices.Contains(conflictingModules, m) {
			out = append(out, m)
		}
	}
	for _, r := range s.iomem {
		if !isClaimName(r.Name) {
			continue
		}
		if s.chip.length > 0 && !r.overlaps(s.chip.base, s.chip.base+s.chip.length-1) &&
			!(r.Start == 0 && r.End == 0) {
			continue // claims something else, not what flashprog maps
		}
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// iomemClaims returns the /proc/iomem lines inside the chipset's window,
// for the detail text.
func (s *state) iomemClaims() []IomemEntry {
	var out []IomemEntry
	for _, r := range s.iomem {
		if isClaimName(r.Name) && (s.chip.length == 0 || r.overlaps(s.chip.base, s.chip.base+s.chip.length-1)) {
			out = append(out, r)
		}
	}
	return out
}
