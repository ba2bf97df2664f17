package restore

import (
	"strings"
)

// conflictingModules claim the chipset's LPC/SPI controller and its MMIO, so
// that a kernel with CONFIG_IO_STRICT_DEVMEM refuses flashprog's /dev/mem
// mapping (the same set preflight reports). Listed in unload order: users of
// lpc_ich first; iTCO_wdt, lpc_ich's watchdog cell, reserves a register in
// the chipset's range and goes only together with lpc_ich.
var conflictingModules = []string{
	"spi_intel_pci", "spi_intel_platform", "spi_intel",
	"intel_spi_pci", "intel_spi_platform", "intel_spi",
	"lpc_ich",
}

// loadedModules is the set of loaded modules (/proc/modules).
func (m *Manager) loadedModules() map[string]bool {
	mods, _ := m.root().Modules()
	out := map[string]bool{}
	for _, mod := range mods {
		out[mod] = true
	}
	return out
}

// ConflictingLoaded lists the loaded drivers that claim the flash controller,
// in unload order.
func (m *Manager) ConflictingLoaded() []string {
	mods := m.loaded(conflictingModules)
	if len(mods) > 0 && mods[len(mods)-1] == "lpc_ich" && len(m.loaded([]string{"iTCO_wdt"})) > 0 {
		mods = append([]string{"iTCO_wdt"}, mods...)
	}
	return mods
}

// loaded returns those of mods that are loaded, in the order given.
func (m *Manager) loaded(mods []string) []string {
	have := m.loadedModules()
	var out []string
	for _, mod := range mods {
		if have[mod] {
			out = append(out, mod)
		}
	}
	return out
}

func (m *Manager) planDrivers(j *Journal) (*Step, error) {
	s := &Step{Action: ActionDrivers}
	mods := m.ConflictingLoaded()
	if len(mods) == 0 {
		s.Status = "already"
		s.Summary = "no driver that claims the flash controller is loaded"
		return s, nil
	}
	t, err := m.findTool("modprobe")
	if err != nil {
		return nil, err
	}
	e := &Entry{Action: ActionDrivers, Backend: backendModprobe, BootID: m.root().BootID(), Modules: mods,
		Apply:  []Command{{Tool: t, Args: append([]string{"-r"}, mods...)}},
		Expect: "none of " + strings.Join(mods, ", ") + " in /proc/modules"}
	return m.describe(s, e), nil
}

// reloadCommands loads again, in reverse unload order, the drivers of e that
// are not loaded now. After a reboot the kernel loaded them itself, so
// nothing is left to do.
func (m *Manager) reloadCommands(e *Entry) []Command {
	if e.BootID != "" && e.BootID != m.root().BootID() {
		return nil
	}
	t, err := m.findTool("modprobe")
	if err != nil {
		t = "/sbin/modprobe" // run reports the error, and the entry stays
	}
	have := m.loadedModules()
	var out []Command
	for i := len(e.Modules) - 1; i >= 0; i-- {
		if !have[e.Modules[i]] {
			out = append(out, Command{Tool: t, Args: []string{e.Modules[i]}})
		}
	}
	return out
}
