package preflight

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// powerCheck: a laptop that runs out of battery mid-write is left with a
// half-written chip. Nothing here matters to the dummy programmer.
var powerCheck = definition{id: "power", run: checkPower, informational: func(p string) bool { return p == "dummy" }}

// lowCharge is the charge under which we warn even on AC: a loose plug would
// leave too little to finish.
const lowCharge = 30

type supply struct {
	name, kind, status string
	online, capacity   int // -1 when absent
	device             bool
}

func readSupplies(e *Env) []supply {
	dir := "/sys/class/power_supply"
	ents, err := os.ReadDir(e.Path(dir))
	if err != nil {
		return nil
	}
	var out []supply
	for _, ent := range ents {
		p := dir + "/" + ent.Name() + "/"
		sp := supply{name: ent.Name(), online: -1, capacity: -1}
		sp.kind, _ = e.readString(p + "type")
		sp.status, _ = e.readString(p + "status")
		if v, err := e.readString(p + "online"); err == nil {
			sp.online, _ = strconv.Atoi(v)
		}
		if v, err := e.readString(p + "capacity"); err == nil {
			if n, err := strconv.Atoi(v); err == nil {
				sp.capacity = n
			}
		}
		// scope "Device" marks batteries of peripherals (mice, headsets).
		scope, _ := e.readString(p + "scope")
		sp.device = scope == "Device"
		out = append(out, sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func checkPower(s *state) Check {
	if !s.linux {
		return Check{Status: Skip, Summary: "not checked on " + s.env.GOOS + "; keep the machine on AC power"}
	}
	var bats []supply
	acOnline, mains := false, false
	for _, sp := range readSupplies(s.env) {
		mains = mains || sp.kind == "Mains"
		switch {
		case sp.kind == "Battery" && !sp.device:
			bats = append(bats, sp)
		case (sp.kind == "Mains" || strings.HasPrefix(sp.kind, "USB")) && sp.online == 1:
			acOnline = true
		}
	}
	if len(bats) == 0 {
		return Check{Status: Pass, Summary: "no battery (mains powered)"}
	}
	var desc []string
	discharging, low := false, false
	for _, b := range bats {
		d := b.name + ": " + strings.ToLower(b.status)
		if b.capacity >= 0 {
			d += fmt.Sprintf(", %d%%", b.capacity)
		}
		desc = append(desc, d)
		discharging = discharging || b.status == "Discharging"
		low = low || (b.capacity >= 0 && b.capacity < lowCharge)
	}
	detail := strings.Join(desc, "; ")
	if discharging || mains && !acOnline {
		return Check{
			Status:  Fail,
			Summary: "running on battery (" + detail + ")",
			Detail:  "If the battery runs out while the chip is written, the machine will not boot again without an external programmer.",
			Fix:     "Plug in the AC adapter, then run the command again.",
			Docs:    docsInternal,
		}
	}
	if low {
		return Check{
			Status:  Warn,
			Summary: "battery low (" + detail + ")",
			Detail:  "On AC now; a loose plug would leave too little charge to finish writing.",
			Fix:     fmt.Sprintf("Let the battery charge above %d%% and keep the AC adapter plugged in.", lowCharge),
		}
	}
	return Check{Status: Pass, Summary: "on AC power (" + detail + ")"}
}
