package preflight

import (
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/kcmdline"
)

var lockdownCheck = definition{id: "lockdown", run: checkLockdown, informational: internalOnly}

// lockdown is the kernel lockdown state and where it comes from.
type lockdown struct {
	mode     string // "none", "integrity", "confidentiality"; "" unknown
	inferred bool   // securityfs not mounted: mode deduced from config, cmdline, Secure Boot
	noFile   bool   // /sys/kernel/security/lockdown absent
	source   string // why it is active
	kind     string // diagnose.Lockdown* for source
	fix      string
}

// parseLockdown picks the bracketed mode from "none [integrity] confidentiality".
func parseLockdown(s string) string {
	for _, f := range strings.Fields(s) {
		if strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]") {
			return strings.Trim(f, "[]")
		}
	}
	return ""
}

func securityfsMounted(e *Env) bool {
	b, err := e.readFile("/proc/mounts")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) > 2 && f[2] == "securityfs" {
			return true
		}
	}
	return false
}

func readLockdown(s *state) lockdown {
	var l lockdown
	src, mode, fix, kind := lockdownSource(s)
	l.source, l.fix, l.kind = src, fix, kind
	if v, err := s.env.readString("/sys/kernel/security/lockdown"); err == nil {
		l.mode = parseLockdown(v)
		return l
	}
	l.noFile = true
	switch {
	case s.kconfig.Tri("CONFIG_SECURITY_LOCKDOWN_LSM") == diagnose.No:
		l.mode = "none" // kernel built without the lockdown LSM
	case securityfsMounted(s.env):
		l.mode = "none" // securityfs is there but the LSM is not active
	default:
		// securityfs not mounted: deduce what we can from how the kernel
		// was built and booted.
		l.mode, l.inferred = mode, true
	}
	return l
}

// lockdownSource says why lockdown would be active, strongest reason first:
// the command line overrides nothing the config forces, and Secure Boot
// locks down only kernels built with CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT.
// kind is the source as diagnose.Facts names it, for the fix diagnose picks.
func lockdownSource(s *state) (source, mode, fix, kind string) {
	k := s.kconfig
	switch {
	case k.Tri("CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY") == diagnose.Yes:
		return "the kernel is built with CONFIG_LOCK_DOWN_KERNEL_FORCE_CONFIDENTIALITY", "confidentiality",
			"Boot a kernel built without forced lockdown (CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE=y); this is a build-time option.", diagnose.LockdownKconfig
	case k.Tri("CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY") == diagnose.Yes:
		return "the kernel is built with CONFIG_LOCK_DOWN_KERNEL_FORCE_INTEGRITY", "integrity",
			"Boot a kernel built without forced lockdown (CONFIG_LOCK_DOWN_KERNEL_FORCE_NONE=y); this is a build-time option.", diagnose.LockdownKconfig
	}
	if p, ok := kcmdline.Lookup(s.cmdline, "lockdown"); ok && (p.Value == "integrity" || p.Value == "confidentiality") {
		return "lockdown=" + p.Value + " is on the kernel command line", p.Value,
			"Remove lockdown=" + p.Value + " from the kernel command line (bootloader configuration) and reboot.", diagnose.LockdownCmdline
	}
	if s.secure.enforcing() && k.Tri("CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT") == diagnose.Yes {
		return "Secure Boot is on and the kernel has CONFIG_LOCK_DOWN_IN_EFI_SECURE_BOOT", "integrity",
			"1. Reboot into the firmware setup and disable Secure Boot.\n2. Boot again and run libreflash check.", diagnose.LockdownSecureBoot
	}
	if s.secure.enforcing() && !k.Found() {
		return "Secure Boot is enabled, which locks down most distribution kernels", "",
			"1. Reboot into the firmware setup and disable Secure Boot.\n2. Boot again and run libreflash check.", diagnose.LockdownSecureBoot
	}
	if !k.Found() {
		return "", "", "", "" // nothing to deduce from
	}
	return "", "none", "", ""
}

func checkLockdown(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS}
	}
	l := s.lock
	const why = "Lockdown refuses /dev/mem and I/O port access even to root, so flashprog fails with " +
		"\"Operation not permitted\" or \"/dev/mem mmap failed\"."
	switch {
	case l.mode == "none" && !l.inferred && l.noFile:
		return Check{Status: Pass, Summary: "kernel lockdown not active (no lockdown LSM)"}
	case l.mode == "none" && !l.inferred:
		return Check{Status: Pass, Summary: "kernel lockdown: none"}
	case l.mode == "none":
		return Check{
			Status:  Pass,
			Summary: "kernel lockdown: none as far as can be told (securityfs not mounted)",
			Detail:  "Nothing in the kernel config, command line or Secure Boot state enables it.",
			Fix:     "To confirm: mount -t securityfs securityfs /sys/kernel/security; cat /sys/kernel/security/lockdown",
		}
	case l.mode == "":
		return Check{
			Status:  Warn,
			Summary: "kernel lockdown state unknown (securityfs not mounted)",
			Detail:  strings.TrimSpace(why + " " + sentence(l.source)),
			Fix:     "mount -t securityfs securityfs /sys/kernel/security, then run the check again",
			Docs:    docsDevmem,
		}
	}
	c := Check{
		Status:  Fail,
		Summary: "kernel lockdown is active: " + l.mode,
		Detail:  why,
		Fix:     l.fix,
		Docs:    docsDevmem,
	}
	if l.source != "" {
		c.Summary += ", because " + l.source
	} else {
		c.Detail += " Its source is not visible: not on the command line, not forced by the kernel config, not from Secure Boot (a distribution policy?)."
		c.Fix = "Boot a kernel or configuration without lockdown; disabling Secure Boot in the firmware setup is the usual way."
	}
	if l.inferred {
		c.Summary = "kernel lockdown is active: " + l.mode + ", because " + l.source + " (deduced: securityfs is not mounted)"
	}
	return c
}

func sentence(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:] + "."
}
