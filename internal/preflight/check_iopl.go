package preflight

import (
	"errors"
	"syscall"

	"libreflash/internal/diagnose"
)

var ioplCheck = definition{id: "iopl", run: checkIopl, informational: internalOnly}

// checkIopl asks for I/O privilege level 3 as flashprog does (rget_io_perms)
// and drops it again at once. Only x86 has I/O ports.
func checkIopl(s *state) Check {
	if !s.env.isX86() {
		return Check{Status: Skip, Summary: "no I/O ports on " + s.env.GOARCH}
	}
	if !s.linux {
		return Check{Status: Skip, Summary: "not probed on " + s.env.GOOS + " (see bsd_securelevel)"}
	}
	cfg := s.kconfig.Tri("CONFIG_X86_IOPL_IOPERM")
	noConfig := Check{
		Status:  Fail,
		Summary: "kernel built without CONFIG_X86_IOPL_IOPERM: iopl() is not implemented",
		Detail:  "flashprog needs I/O port access and fails with \"Could not get I/O privileges (Function not implemented)\", as root too.",
		Fix: "Boot a kernel built with CONFIG_X86_IOPL_IOPERM=y (a build-time option; most distribution kernels have it),\n" +
			"e.g. a live system such as Debian's, and run libreflash from there.",
		Docs: docsDevmem,
	}
	if s.euid != 0 {
		switch {
		case cfg == diagnose.No:
			return noConfig
		case s.lock.mode != "" && s.lock.mode != "none":
			return s.ioplLocked("kernel lockdown (" + s.lock.mode + ") will refuse iopl(3)")
		case cfg == diagnose.Yes:
			return Check{Status: Pass, Summary: "kernel has CONFIG_X86_IOPL_IOPERM (live probe needs root)"}
		}
		return Check{Status: Warn, Summary: "not probed (needs root) and kernel config not found"}
	}
	err := probeIopl(s.env.Iopl)
	switch {
	case err == nil:
		s.facts.IOPLConfig = diagnose.Yes
		return Check{Status: Pass, Summary: "iopl(3) granted (and dropped again)"}
	case errors.Is(err, errNoProbe):
		if cfg == diagnose.No {
			return noConfig
		}
		return Check{Status: Warn, Summary: "iopl not probed here"}
	case errors.Is(err, syscall.ENOSYS):
		s.facts.IOPLConfig = diagnose.No
		return noConfig
	case errors.Is(err, syscall.EPERM):
		if s.lock.mode != "" && s.lock.mode != "none" {
			return s.ioplLocked("iopl(3) refused to root: kernel lockdown (" + s.lock.mode + ")")
		}
		return s.ioplLocked("iopl(3) refused to root (Operation not permitted): kernel lockdown, a security policy, or a container without CAP_SYS_RAWIO")
	}
	return Check{Status: Fail, Summary: "iopl(3) failed: " + errnoText(err), Docs: docsFAQ}
}

func (s *state) ioplLocked(summary string) Check {
	fix := s.lock.fix
	if fix == "" {
		fix = "Disable what enables kernel lockdown (see the lockdown check); usually Secure Boot in the firmware setup."
	}
	return Check{
		Status:  Fail,
		Summary: summary,
		Detail:  "flashprog fails with \"Could not get I/O privileges (Operation not permitted)\" even as root.",
		Fix:     fix,
		Docs:    docsDevmem,
	}
}
