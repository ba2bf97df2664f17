package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Probe is what one flasher run that touches no chip contents learned: the
// chip, and what the programmer's initialisation reported.
type Probe struct {
	Chip Chip
	// Locked lists the descriptor regions the host may not write
	// (flashprog/flashrom's FREG lines on Intel machines), once each, in
	// the order printed; BIOS included when it is locked.
	Locked []LockedRegion
	// Untested is the flasher's "status UNTESTED" line for the chip, if any.
	Untested string
	// Runs lists the argv of every flasher run the probe made: one, or two
	// when the first printed no chip line with a size (a --flash-size
	// fallback).
	Runs [][]string
}

// LockedRegion is a descriptor region the host may not write.
type LockedRegion struct {
	Name   string // "Management Engine", "Flash Descriptor", "BIOS", …
	Access string // "locked" or "read-only"
}

// LockedNames lists the locked regions' names, leaving out those named in
// except (case-insensitive), e.g. "BIOS".
func (p *Probe) LockedNames(except ...string) []string {
	var out []string
	for _, r := range p.Locked {
		skip := false
		for _, e := range except {
			skip = skip || strings.EqualFold(r.Name, e)
		}
		if !skip {
			out = append(out, r.Name)
		}
	}
	return out
}

// Probe identifies the chip behind programmer in one flasher run: with
// --flash-name where the flasher has it (its vendor="…" name="…" line names
// the chip alone), or a bare run otherwise; the chip's size comes from the
// same run's `Found … flash chip "NAME" (16384 kB, SPI)` line. Only when
// that line is missing does it run --flash-size as well. log, when not
// nil, receives the flasher's output.
func (f *Flasher) Probe(ctx context.Context, programmer string, log io.Writer) (*Probe, error) {
	return f.ProbeWith(ctx, Spec{Programmer: programmer, Log: log})
}

// ProbeWith is Probe with the parts of base that every run of the probe
// takes: the programmer, the log, the files it inherits (the locks, which
// a probe holds like any flasher run: issue 13), OnStart and OnEnd.
func (f *Flasher) ProbeWith(ctx context.Context, base Spec) (*Probe, error) {
	programmer, log := base.Programmer, base.Log
	run := func(args []string, w io.Writer, onEvent func(Event)) (*Result, error) {
		return f.Run(ctx, Spec{Programmer: programmer, Args: args, Log: w, OnEvent: onEvent,
			Inherit: base.Inherit, OnStart: base.OnStart, OnEnd: base.OnEnd})
	}
	p := &Probe{}
	var chips []Chip
	onEvent := func(e Event) {
		switch e.Kind {
		case EvChip:
			if e.Chip != nil {
				chips = append(chips, *e.Chip)
			}
		case EvRegionLocked:
			for _, r := range p.Locked {
				if r.Name == e.Region {
					return
				}
			}
			p.Locked = append(p.Locked, LockedRegion{Name: e.Region, Access: e.Access})
		case EvUntested:
			p.Untested = e.Text
		}
	}
	var args []string
	if f.Caps.FlashName {
		args = []string{"--flash-name"}
	}
	out := NewExcerpt(0, 64<<10)
	w := io.Writer(out)
	if log != nil {
		w = io.MultiWriter(out, log)
	}
	res, err := run(args, w, onEvent)
	if res != nil {
		p.Runs = append(p.Runs, res.Argv)
	}
	if err != nil {
		return p, err
	}
	if len(chips) > 0 {
		p.Chip = chips[len(chips)-1]
	}
	if f.Caps.FlashName {
		vendor, name, ok := parseFlashName(out.String())
		if !ok {
			return p, fmt.Errorf("%s --flash-name: no vendor=\"…\" name=\"…\" line in its output", f.Path)
		}
		if p.Chip.Name != name {
			// the chip line, if any, is another candidate's
			p.Chip = Chip{Bus: p.Chip.Bus}
			for _, c := range chips {
				if c.Name == name {
					p.Chip = c
				}
			}
		}
		p.Chip.Vendor, p.Chip.Name = vendor, name
	} else if p.Chip.Name == "" {
		return p, fmt.Errorf("%s: no chip named in its output (no `Found … flash chip \"…\" (… kB, …)` line)", f.Path)
	}
	if p.Chip.SizeBytes > 0 {
		return p, nil
	}
	if !f.Caps.FlashSize {
		return p, fmt.Errorf("%s: the chip's size is not in its output, and it has no --flash-size", f.Path)
	}
	out = NewExcerpt(0, 64<<10)
	w = io.Writer(out)
	if log != nil {
		w = io.MultiWriter(out, log)
	}
	res, err = run([]string{"--flash-size"}, w, nil)
	if res != nil {
		p.Runs = append(p.Runs, res.Argv)
	}
	if err != nil {
		return p, err
	}
	size, ok := parseFlashSize(out.String())
	if !ok {
		return p, fmt.Errorf("%s --flash-size: no size in its output", f.Path)
	}
	p.Chip.SizeBytes = size
	return p, nil
}
