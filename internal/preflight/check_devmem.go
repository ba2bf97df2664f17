package preflight

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"libreflash/internal/diagnose"
)

var devmemCheck = definition{id: "devmem", run: checkDevmem, informational: internalOnly}

// lowPage is mapped when the chipset window cannot be derived: the BIOS area
// below 1 MiB, which STRICT_DEVMEM allows, so refusing it means /dev/mem is
// closed altogether (lockdown, no CAP_SYS_RAWIO).
const lowPage = 0xf0000

func checkDevmem(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS}
	}
	path := s.env.Path("/dev/mem")
	n, err := s.env.Stat(path)
	if err != nil {
		c := Check{Status: Fail, Summary: "/dev/mem does not exist", Docs: docsDevmem}
		if !errors.Is(err, os.ErrNotExist) {
			c.Summary = "/dev/mem cannot be examined: " + err.Error()
		}
		if s.kconfig.Tri("CONFIG_DEVMEM") == diagnose.No {
			c.Detail = "The kernel is built without CONFIG_DEVMEM, so the flasher cannot map the chipset."
			c.Fix = "Boot a kernel built with CONFIG_DEVMEM=y (most distribution kernels are)."
		} else {
			c.Detail = "The kernel has /dev/mem but this system does not show it: usually a container or a sandbox."
			c.Fix = "Run libreflash on the machine itself (not in a container or VM), as root."
		}
		return c
	}
	if !n.Char || n.Major != 1 || n.Minor != 1 {
		return Check{
			Status:  Fail,
			Summary: "/dev/mem is not the memory device (character device 1:1)",
			Detail:  fmt.Sprintf("found %s", describeNode(n)),
			Fix:     "Remove the impostor and recreate the node: rm /dev/mem; mknod -m 0640 /dev/mem c 1 1; chown root:kmem /dev/mem",
		}
	}

	c := s.devmemVerdict()
	if hole := s.devmemPermHole(n); hole != "" {
		if c.Status == Pass {
			c.Status = Warn
			c.Summary = "/dev/mem is open to more than root and group kmem"
		}
		c.Detail = strings.TrimSpace(c.Detail + " " + hole)
		fix := fmt.Sprintf("chown root:kmem /dev/mem; chmod 0640 /dev/mem (and check the udev rule that set %s)", describeNode(n))
		if c.Fix == "" {
			c.Fix = fix
		} else {
			c.Fix += "\nAlso close the hole: " + fix
		}
	}
	return c
}

// devmemVerdict combines the kernel config, the command line, conflicting
// drivers and the live probe.
func (s *state) devmemVerdict() Check {
	relaxed := s.iomemRelaxed()
	strict := s.kconfig.Tri("CONFIG_STRICT_DEVMEM")
	ioStrict := s.kconfig.Tri("CONFIG_IO_STRICT_DEVMEM")
	window := s.windowText()
	fixRelaxed := "1. Reboot with iomem=relaxed on the kernel command line (libreflash prepare will be able to add it for the next boot and remove it afterwards).\n" +
		"2. Or unload the drivers: " + s.unloadCommand() + "\n" +
		"3. Or boot a kernel built without CONFIG_STRICT_DEVMEM."

	// The live probe needs root: as another user open(2) just says EACCES.
	var probeErr error
	probed := false
	if s.euid == 0 {
		off, length := int64(lowPage), int64(0x1000)
		if s.chip.length > 0 {
			off, length = int64(s.chip.base), int64(s.chip.length)
		}
		probeErr = s.env.MapMem(s.env.Path("/dev/mem"), off, length)
		probed = !errors.Is(probeErr, errNoProbe)
	}
	var cfg []string
	if strict == diagnose.Yes {
		cfg = append(cfg, "CONFIG_STRICT_DEVMEM=y")
	}
	if ioStrict == diagnose.Yes {
		cfg = append(cfg, "CONFIG_IO_STRICT_DEVMEM=y")
	}
	cfgText := "kernel config not found"
	switch {
	case len(cfg) > 0:
		cfgText = strings.Join(cfg, ", ")
	case s.kconfig.Found():
		cfgText = "kernel without STRICT_DEVMEM"
	}

	busy, busyWhy := s.busyConflict()
	if probed && probeErr != nil {
		c := Check{Status: Fail, Docs: docsDevmem}
		c.Summary = "/dev/mem refuses to map " + window + ": " + errnoText(probeErr)
		switch {
		case errors.Is(probeErr, syscall.EPERM) && s.lock.mode != "" && s.lock.mode != "none":
			c.Detail = "Kernel lockdown (" + s.lock.mode + ") closes /dev/mem to root."
			c.Fix = s.lock.fix
			if c.Fix == "" {
				c.Fix = "Disable what enables lockdown (see the lockdown check), usually Secure Boot in the firmware setup."
			}
		case errors.Is(probeErr, syscall.EPERM) && busy && !relaxed:
			c.Detail = cfgText + "; " + busyWhy + ", and the kernel refuses to share a range a driver holds."
			c.Fix = fixRelaxed
		case errors.Is(probeErr, syscall.EPERM) && !relaxed:
			c.Detail = cfgText + ": the kernel refuses user mappings of this range."
			c.Fix = fixRelaxed
		case errors.Is(probeErr, syscall.EINVAL) || errors.Is(probeErr, syscall.EAGAIN):
			c.Detail = "The kernel refused the mapping's memory type (CONFIG_X86_PAT)."
			c.Fix = "Reboot with nopat on the kernel command line."
		default:
			c.Detail = cfgText + "."
			c.Fix = "Run as root on the machine itself; see the lockdown and root checks."
		}
		return c
	}
	if relaxed {
		return Check{Status: Pass, Summary: "/dev/mem usable: iomem=relaxed is in effect" + probeText(probed, window),
			Detail: cfgText + "; iomem=relaxed lets root map ranges that drivers hold."}
	}
	if probed && s.chip.length > 0 {
		// The probe mapped the very window flashprog maps first.
		c := Check{Status: Pass, Summary: "/dev/mem usable" + probeText(probed, window), Detail: cfgText + "."}
		if len(s.claimers) > 0 {
			c.Detail += " Loaded: " + strings.Join(s.claimers, ", ") + ", holding none of it busy."
		}
		return c
	}
	if ioStrict == diagnose.Yes && busy {
		return Check{
			Status:  Fail,
			Summary: "/dev/mem will refuse the chipset: a driver holds part of it and the kernel has CONFIG_IO_STRICT_DEVMEM",
			Detail: cfgText + "; " + busyWhy + ". With IO_STRICT_DEVMEM the kernel refuses to map a range a driver holds, " +
				"and flashprog fails with \"/dev/mem mmap failed: Operation not permitted\".",
			Fix:  fixRelaxed,
			Docs: docsDevmem,
		}
	}
	if strict == diagnose.Yes {
		detail := "No driver holds the chipset's range now, so flashprog should get it; if it still reports " +
			"\"/dev/mem mmap failed\", reboot with iomem=relaxed."
		if slices.Contains(s.modules, "lpc_ich") && ioStrict == diagnose.Yes {
			detail = "lpc_ich is loaded but nothing holds the range busy yet; if iTCO_wdt gets loaded it will. " + detail
		}
		return Check{
			Status:  Warn,
			Summary: "/dev/mem is restricted (" + cfgText + ")" + probeText(probed, window),
			Detail:  detail,
			Fix:     "Only if flashprog fails: reboot with iomem=relaxed (libreflash prepare will be able to add it)",
			Docs:    docsDevmem,
		}
	}
	if !s.kconfig.Found() && !probed {
		return Check{Status: Warn, Summary: "/dev/mem present; kernel config not found and not probed (needs root)",
			Detail: "Without /proc/config.gz or /boot/config-" + s.release + " STRICT_DEVMEM cannot be checked."}
	}
	return Check{Status: Pass, Summary: "/dev/mem usable (" + cfgText + ")" + probeText(probed, window)}
}

func probeText(probed bool, window string) string {
	if !probed {
		return ""
	}
	return "; mapped " + window + " read-only"
}

// windowText names what the probe maps.
func (s *state) windowText() string {
	if s.chip.length > 0 {
		return fmt.Sprintf("%s at %#x (%d KiB)", s.chip.window, s.chip.base, s.chip.length/1024)
	}
	return fmt.Sprintf("a low-memory page at %#x", lowPage)
}

// unloadCommand unloads the conflicting modules, users first: iTCO_wdt
// (lpc_ich's watchdog cell) must go before lpc_ich.
func (s *state) unloadCommand() string {
	var mods []string
	if slices.Contains(s.modules, "iTCO_wdt") {
		mods = append(mods, "iTCO_wdt")
	}
	for _, m := range s.modules {
		if slices.Contains(conflictingModules, m) && m != "lpc_ich" && m != "iTCO_wdt" {
			mods = append(mods, m)
		}
	}
	if slices.Contains(s.modules, "lpc_ich") || len(mods) == 0 {
		mods = append(mods, "lpc_ich")
	}
	return "modprobe -r " + strings.Join(mods, " ")
}

// devmemPermHole explains a /dev/mem readable or writable beyond root and
// group kmem: whoever can read it reads all of memory.
func (s *state) devmemPermHole(n Node) string {
	kmem := s.kmemGID()
	var why []string
	if n.UID != 0 {
		why = append(why, fmt.Sprintf("owned by uid %d", n.UID))
	}
	if n.Perm&0o006 != 0 {
		why = append(why, "accessible to every user")
	}
	if n.Perm&0o060 != 0 && n.GID != 0 && n.GID != kmem {
		why = append(why, fmt.Sprintf("accessible to group %d", n.GID))
	}
	if len(why) == 0 {
		return ""
	}
	return fmt.Sprintf("/dev/mem (%s) is %s: anyone there can read all memory. This is a security hole.", describeNode(n), strings.Join(why, ", "))
}

// kmemGID looks up group kmem in /etc/group (15 on Debian when absent).
func (s *state) kmemGID() int {
	if b, err := s.env.readFile("/etc/group"); err == nil {
		for line := range strings.Lines(string(b)) {
			f := strings.Split(strings.TrimSpace(line), ":")
			if len(f) >= 3 && f[0] == "kmem" {
				if g, err := strconv.Atoi(f[2]); err == nil {
					return g
				}
			}
		}
	}
	return 15
}

func describeNode(n Node) string {
	kind := "-"
	if n.Char {
		kind = "c"
	}
	return fmt.Sprintf("%s %d:%d %04o uid %d gid %d", kind, n.Major, n.Minor, uint32(n.Perm), n.UID, n.GID)
}

// errnoText prints the system error as flashprog would ("Operation not
// permitted"), without the path.
func errnoText(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		return en.Error()
	}
	return err.Error()
}
