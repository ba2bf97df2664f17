package archive

import (
	"fmt"
	"strings"

	"libreflash/internal/exitcode"
)

// Fit says whether an image suits this machine (chip size, board); why
// explains a misfit for people.
type Fit func(*ROM) (ok bool, why string)

// Misfit is an image left out, and why.
type Misfit struct {
	ROM *ROM   `json:"rom"`
	Why string `json:"why"`
}

// Choice is what Choose found.
type Choice struct {
	// ROM is the image to write; nil when Candidates holds several and the
	// user has to pick one (--rom NAME, or a prompt).
	ROM        *ROM     `json:"rom,omitempty"`
	Candidates []*ROM   `json:"candidates,omitempty"`
	Misfits    []Misfit `json:"misfits,omitempty"`
}

// Choose picks the image to write: the one named (--rom NAME: its file
// name, with or without .rom or the DO_NOT_FLASH prefix), else the images
// that fit this machine. An uninjected image is never chosen: it is
// refused with the inject command. Several that fit are returned for the
// user to pick from.
func (r *Release) Choose(name string, fits Fit) (*Choice, error) {
	if name != "" {
		rom := r.find(name)
		if rom == nil {
			return nil, exitcode.New(exitcode.Usage, "images in "+r.Name+":\n  "+strings.Join(r.names(r.ROMs), "\n  "),
				"--rom %s: no such image in %s", name, r.Name)
		}
		if rom.Uninjected {
			return nil, r.uninjected([]*ROM{rom})
		}
		if ok, why := fits(rom); !ok {
			return nil, refuse("choose an image for this machine, or leave out --rom to let libreflash choose",
				"%s does not fit this machine: %s", rom.Name, why)
		}
		return &Choice{ROM: rom}, nil
	}
	c := &Choice{}
	var fitting []*ROM
	for _, rom := range r.ROMs {
		if ok, why := fits(rom); !ok {
			c.Misfits = append(c.Misfits, Misfit{rom, why})
			continue
		}
		fitting = append(fitting, rom)
	}
	if len(fitting) == 0 {
		var whys []string
		for _, m := range c.Misfits {
			whys = append(whys, m.ROM.Name+": "+m.Why)
		}
		return nil, refuse("download the archive for this machine and its chip size (the name ends in the board and size, e.g. _x230_12mb)",
			"no image in %s fits this machine:\n  %s", r.Name, strings.Join(whys, "\n  "))
	}
	var ready []*ROM
	for _, rom := range fitting {
		if !rom.Uninjected {
			ready = append(ready, rom)
		}
	}
	if len(ready) == 0 {
		return nil, r.uninjected(fitting)
	}
	if len(ready) == 1 {
		c.ROM = ready[0]
		return c, nil
	}
	c.Candidates = ready
	return c, nil
}

func (r *Release) uninjected(roms []*ROM) error {
	return refuse(r.InjectHint(),
		"%s: %s still lack%s the vendor files they need (the release ships them without; flashed as they are, they brick the machine)",
		r.Name, strings.Join(r.names(roms), ", "), map[bool]string{true: "s", false: ""}[len(roms) == 1])
}

func (r *Release) find(name string) *ROM {
	want := strings.TrimSuffix(strings.TrimPrefix(name, UninjectedPrefix), ".rom")
	for _, rom := range r.ROMs {
		if rom.Name == name || strings.TrimSuffix(strings.TrimPrefix(rom.Name, UninjectedPrefix), ".rom") == want {
			return rom
		}
	}
	return nil
}

func (r *Release) names(roms []*ROM) []string {
	out := make([]string, len(roms))
	for i, rom := range roms {
		out[i] = rom.Name
	}
	return out
}

// ChooseError asks the user to pick: several images fit and none was named.
func ChooseError(r *Release, c *Choice) error {
	var lines []string
	for _, rom := range c.Candidates {
		lines = append(lines, fmt.Sprintf("--rom %s   (%s)", rom.Name, rom.Label()))
	}
	return exitcode.New(exitcode.Usage, "pick one:\n  "+strings.Join(lines, "\n  "),
		"%d images in %s fit this machine; say which one to write", len(c.Candidates), r.Name)
}
