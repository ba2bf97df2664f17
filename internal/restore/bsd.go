package restore

import (
	"strings"
)

// BSD securelevel: at 1 (the multi-user default) /dev/mem cannot be written
// and raw I/O is refused; only init can lower it, at boot. libreflash sets
// -1 ("permanently insecure") for the next boot and restores the setting
// afterwards.
const (
	BackendOpenBSD = "openbsd-rc.securelevel"
	BackendNetBSD  = "netbsd-rc.conf"

	openbsdSecurelevelPath = "/etc/rc.securelevel" // sourced by /etc/rc
	netbsdRcConfPath       = "/etc/rc.conf"        // securelevel= read by rc.d/securelevel
	securelevelLine        = "securelevel=-1 # added by 'libreflash prepare' for flashprog; 'libreflash restore' removes this line"
)

// bsdFlavour says which BSD the root is: from GOOS on a real system, from the
// kernel file at the root otherwise (tests run on Linux).
func (m *Manager) bsdFlavour() string {
	switch {
	case m.GOOS == "openbsd", m.existsHost("/bsd") && m.existsHost("/etc/rc"):
		return "openbsd"
	case m.GOOS == "netbsd", m.existsHost("/netbsd") && m.existsHost("/etc/rc.conf"):
		return "netbsd"
	}
	return ""
}

func (m *Manager) planSecurelevel(j *Journal) (*Step, error) {
	s := &Step{Action: ActionSecurelevel, Reboot: true}
	if e := pending(j, ActionSecurelevel); e != nil {
		s.Status, s.Backend = "already", e.Backend
		s.Summary = "securelevel=-1 is set for the next boot (journal " + e.ID + "); reboot to use it"
		return s, nil
	}
	var file, backend string
	switch m.bsdFlavour() {
	case "openbsd":
		file, backend = openbsdSecurelevelPath, BackendOpenBSD
	case "netbsd":
		file, backend = netbsdRcConfPath, BackendNetBSD
	default:
		s.Status, s.Reboot = "already", false
		s.Summary = "not a BSD system: securelevel does not apply"
		return s, nil
	}
	src, _ := m.readHost(file)
	if lastSecurelevel(src) == "-1" {
		s.Status, s.Backend = "already", backend
		s.Summary = file + " already sets securelevel=-1; reboot to use it"
		return s, nil
	}
	fc, err := m.snapshot(file, appendLine(src, securelevelLine), "line", securelevelLine)
	if err != nil {
		return nil, err
	}
	e := &Entry{Action: ActionSecurelevel, Backend: backend, Reboot: true, Files: []*FileChange{fc},
		Expect: "kern.securelevel=-1 after the next boot"}
	return m.describe(s, e), nil
}

// lastSecurelevel returns the value of the last securelevel= assignment in a
// shell file, or "".
func lastSecurelevel(src []byte) string {
	v := ""
	for _, l := range strings.Split(string(src), "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "securelevel="); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				v = strings.Trim(f[0], `"'`)
			}
		}
	}
	return v
}
