package preflight

import (
	"fmt"
	"strings"

	"libreflash/internal/boards"
	"libreflash/internal/rom"
)

var boardCheck = definition{id: "board", run: checkBoard, informational: internalOnly}

// BoardReport is what the board check found, for install and status.
type BoardReport struct {
	Machine  *rom.Machine
	Firmware Firmware
	// Board is nil when the machine is not on Libreboot's list.
	Board *boards.Board
	// Route is the route from the running firmware; "" when unknown.
	Route boards.Route
	// Lock is the chipset's lock state, read for the routes that depend
	// on it (jumper, dell_unlock); nil otherwise.
	Lock *LockState
	// Forced: --force-route let a blocking route through.
	Forced bool
}

// DellCycleSteps is the dell-flash-unlock cycle as the user runs it by hand
// (from the tool's README and messages).
var DellCycleSteps = []string{
	"Run dell_flash_unlock as root: it asks the EC to set the descriptor override on the next boot.",
	"Shut down (do not reboot) and power on again (some models power on by themselves).",
	"Run dell_flash_unlock again: it disables SMIs, so the BIOS lock cannot undo the write enable (newer models report the flash unlocked instead).",
	"Install; after a verified write run dell_flash_unlock once more to enable SMIs, then shut down.",
}

func checkBoard(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS}
	}
	br := s.boardReport()
	m, fw := br.Machine, br.Firmware
	if !m.Known() {
		return Check{Status: Skip, Summary: "machine not identified: DMI names no vendor and model"}
	}
	if br.Board == nil {
		if fw.Coreboot {
			return Check{Status: Pass, Summary: fmt.Sprintf("%s running %s: route %s", m, fw, boards.Direct),
				Detail: "Not on Libreboot's board list; coreboot runs (" + fw.Evidence + "), so " + boards.Direct.Meaning() + "."}
		}
		return Check{Status: Skip, Summary: fmt.Sprintf("%s running %s: not on Libreboot's board list, no route known", m, fw)}
	}
	b, route := br.Board, br.Route
	c := Check{
		Summary: fmt.Sprintf("%s running %s: route %s", b.Name, fw, route),
		Detail:  route.Meaning() + ". Flash: " + b.Sizes() + ".",
		Docs:    b.Docs,
	}
	if len(b.Notes) > 0 && route != boards.Direct {
		c.Detail += " Note: " + strings.Join(b.Notes, "; ") + "."
	}
	force := func(c Check) Check {
		if c.Status == Fail && s.opts.ForceRoute {
			br.Forced = true
			c.Status = Warn
			c.Detail = "--force-route: going on against the documented route. " + c.Detail
		}
		return c
	}
	switch route {
	case boards.Direct:
		c.Status = Pass
		c.Detail = boards.Direct.Meaning() + " (" + fw.Evidence + "). Flash: " + b.Sizes() + "."
	case boards.BIOSRegionOnly:
		c.Status = Warn
	case boards.ExternalRequired:
		c.Status = Fail
		c.Fix = numbered(b.Steps) + "\nlibreflash drives an external programmer too: libreflash install ROM --programmer ch341a_spi (or yours) backs up, writes and verifies.\n" +
			"Experts who know a way the docs do not describe: --force-route."
	case boards.Jumper:
		ls := s.lockState()
		c.Detail += " " + ls.String() + "."
		if ls.DescriptorUnlocked() {
			c.Status = Pass
			c.Summary += " (override in effect)"
			break
		}
		c.Status = Fail
		if !ls.HSFSKnown {
			c.Summary += " (override state unreadable)"
		}
		c.Fix = numbered(b.Steps)
	case boards.DellUnlock:
		ls := s.lockState()
		c.Detail += " " + ls.String() + "."
		switch {
		case ls.DescriptorUnlocked() && ls.SMIEnKnown && !ls.GblSMIEn:
			c.Status = Pass
			c.Summary += " (unlocked: descriptor override in effect, SMIs disabled)"
		case ls.DescriptorUnlocked() && ls.BIOSCntlKnown && !ls.BIOSLocked():
			c.Status = Pass
			c.Summary += " (unlocked: descriptor override in effect, no BIOS lock)"
		case ls.SMILockKnown && ls.SMILock && ls.BIOSLocked():
			c.Status = Fail
			c.Summary += " (SMI_LOCK is set: SMIs cannot be disabled)"
			c.Fix = "This firmware locks SMI_EN, so dell-flash-unlock cannot lift the BIOS lock.\nFlash with an external programmer: libreflash install ROM --programmer ch341a_spi (or yours)."
		case ls.DescriptorUnlocked():
			c.Status = Fail
			c.Summary += " (descriptor override in effect, SMIs still enabled: the second unlock run is due)"
			c.Fix = numbered(DellCycleSteps[2:]) + "\nlibreflash install runs these steps itself when dell_flash_unlock is installed (or given with --unlock-tool)."
		default:
			c.Status = Fail
			c.Summary += " (locked: the unlock cycle is needed)"
			c.Fix = numbered(DellCycleSteps) + "\nlibreflash install runs these steps itself when dell_flash_unlock is installed (or given with --unlock-tool)."
		}
	}
	return force(c)
}

func numbered(steps []string) string {
	var b strings.Builder
	for i, s := range steps {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d. %s", i+1, s)
	}
	return b.String()
}

// boardReport identifies the machine once per run.
func (s *state) boardReport() *BoardReport {
	if s.board != nil {
		return s.board
	}
	m, fw := ReadFirmware(s.env)
	br := &BoardReport{Machine: m, Firmware: fw, Board: BoardOf(m)}
	if br.Board != nil {
		br.Route = br.Board.RouteFrom(fw.Coreboot)
	} else if fw.Coreboot && m.Known() {
		br.Route = boards.Direct
	}
	s.board = br
	return br
}

// lockState reads the lock registers once per run.
func (s *state) lockState() *LockState {
	br := s.boardReport()
	if br.Lock == nil {
		br.Lock = readLockState(s.env, s.chip)
	}
	return br.Lock
}
