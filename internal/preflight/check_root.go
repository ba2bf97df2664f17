package preflight

import "fmt"

// rootCheck: the flasher needs root for /dev/mem, I/O ports and (without
// udev rules) USB programmers. Only the dummy programmer touches no hardware.
var rootCheck = definition{
	id:            "root",
	run:           checkRoot,
	informational: func(p string) bool { return p == "dummy" },
}

func checkRoot(s *state) Check {
	if s.euid == 0 {
		return Check{Status: Pass, Summary: "running as root (effective uid 0)"}
	}
	return Check{
		Status:  Fail,
		Summary: fmt.Sprintf("not running as root (effective uid %d)", s.euid),
		Detail: "The flasher needs root to map the chipset through /dev/mem and to use I/O ports; " +
			"as another user it fails with \"Operation not permitted\".",
		Fix:  "Run the command again with sudo, e.g. sudo libreflash check",
		Docs: docsFAQ,
	}
}
