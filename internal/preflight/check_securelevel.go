package preflight

import "fmt"

// securelevelCheck is reported on the BSDs only: above -1 their kernels
// refuse I/O privileges and /dev/mem writes to root.
var securelevelCheck = definition{
	id: "bsd_securelevel", run: checkSecurelevel, informational: internalOnly,
	applies: func(e *Env) bool {
		switch e.GOOS {
		case "openbsd", "netbsd", "freebsd", "dragonfly":
			return true
		}
		return false
	},
}

func checkSecurelevel(s *state) Check {
	if s.env.Securelevel == nil {
		return Check{Status: Skip, Summary: "no securelevel on " + s.env.GOOS}
	}
	lvl, err := s.env.Securelevel()
	if err != nil {
		return Check{Status: Warn, Summary: "kern.securelevel unreadable: " + err.Error()}
	}
	s.facts.Securelevel, s.facts.HasSecurelevel = lvl, true
	if lvl <= -1 {
		return Check{Status: Pass, Summary: fmt.Sprintf("kern.securelevel=%d (permanently insecure mode)", lvl)}
	}
	fix := "1. Add kern.securelevel=-1 to /etc/sysctl.conf (NetBSD, FreeBSD) or securelevel=-1 to /etc/rc.securelevel (OpenBSD).\n" +
		"2. Reboot (the level can only be lowered at boot, or from single-user mode), then run the command again.\n" +
		"3. Afterwards restore the previous setting and reboot."
	return Check{
		Status:  Fail,
		Summary: fmt.Sprintf("kern.securelevel=%d: the kernel refuses I/O privileges and /dev/mem writes", lvl),
		Detail:  "flashprog fails with \"Could not get I/O privileges\" and asks for securelevel=-1.",
		Fix:     fix,
		Docs:    docsFAQ,
	}
}
