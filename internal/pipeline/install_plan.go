package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// installPlan is what the plan decided, for the stages after it.
type installPlan struct {
	img    *rom.Image
	image  string // the checked image, copied into the run directory
	prog   string // -p of every flasher run
	chip   ChipRef
	region bool // --ifd -i bios
	locked []string
	// previous is an unfinished earlier run that was writing the chip: its
	// backup is this run's way back, and this run's reads a snapshot.
	previous *PreviousRun
	event    *Plan
}

// plan learns the chip from the flasher, checks the image against it and
// the machine, chooses the region mode, shows the plan and asks to go on.
func (in *installer) plan(ctx context.Context, src *source, found *runner.Flasher, prev *PreviousRun) (*installPlan, error) {
	in.stage(StagePlan, StatusStart)
	fail := func(err error) (*installPlan, error) {
		in.stage(StagePlan, StatusFail)
		return nil, err
	}
	pl := &installPlan{prog: in.o.Programmer}
	machine := rom.ReadMachine(in.o.Env.Root)
	img := src.img
	var rehearsal *Rehearsal
	if in.o.Rehearse && img == nil {
		// The emulated chip takes the image's size: choose by board alone.
		var err error
		if img, err = in.chooseROM(src, 0, machine); err != nil {
			return fail(err)
		}
	}
	if in.o.Rehearse {
		if found == nil {
			return fail(exitcode.New(exitcode.Usage, "rehearse with a real flasher", "a rehearsal needs flashrom or flashprog"))
		}
		ec, err := EmulatedChipFor(img.Size(), found.Kind)
		if err != nil {
			return fail(err)
		}
		chipFile := filepath.Join(in.rec.dir, "chip.bin")
		if err := seedChip(chipFile, in.o.RehearseFrom, img.Bytes()); err != nil {
			return fail(err)
		}
		// The chip file's path goes into the dummy's comma-separated
		// parameters: one with a comma gets a comma-free stand-in.
		image, done, err := dummyImagePath(chipFile)
		if err != nil {
			return fail(err)
		}
		in.cleanups = append(in.cleanups, done)
		pl.prog = ec.Programmer(image, in.o.RehearseParams...)
		rehearsal = &Rehearsal{Emulate: ec.Emulate, ChipFile: chipFile, SeededFrom: in.o.RehearseFrom,
			For: in.o.Programmer, WouldBlock: in.wouldBlock}
	}
	in.s.fl = in.o.Flasher
	if in.s.fl == nil {
		in.s.fl = NewFlasher(found, pl.prog)
	}
	info := in.s.fl.Info()
	in.emit(&info)

	// The checked bytes are what gets written: a private copy, so that the
	// file cannot change between the checks and the write. Made while the
	// flasher probes.
	pl.image = filepath.Join(in.rec.dir, "image.rom")
	copied := make(chan error, 1)
	if img != nil {
		go func() { copied <- statedir.WriteFile(pl.image, img.Bytes(), false) }()
	} else {
		copied <- nil // an archive's image is chosen by the chip's size: copied then
	}
	probe, plog, err := in.s.probe(ctx, StagePlan)
	if cerr := <-copied; err == nil && cerr != nil {
		return fail(cerr)
	}
	if err != nil {
		if runner.IsCancelled(err) {
			return fail(installCancelled("while probing the chip"))
		}
		return fail(in.blockedByFlasher("the flasher cannot reach the chip", plog, err))
	}
	pl.chip, pl.locked = probe.Chip, probe.Locked
	if img == nil {
		if img, err = in.chooseROM(src, pl.chip.Size, machine); err != nil {
			return fail(err)
		}
		if err := statedir.WriteFile(pl.image, img.Bytes(), false); err != nil {
			return fail(err)
		}
	}
	pl.img = img

	rep := rom.Check(img, rom.CheckOptions{ChipSize: pl.chip.Size, Machine: machine,
		ForceBoard: in.o.ForceBoard, Region: in.o.Region,
		KnownBackup: KnownBackup(in.o.StateDir, img.SHA256()), AllowNonCoreboot: in.o.AllowNonCoreboot})
	if in.o.Rehearse {
		// The board is the one fact of this machine that a rehearsal may
		// legitimately not share (practising on another computer): say what
		// the real run would do, and go on.
		for i, v := range rep.Verdicts {
			if v.ID == "board" && v.Status == rom.Fail {
				rep.Verdicts[i].Status = rom.Warn
				rep.Verdicts[i].Summary += " (a real run on this machine refuses this image)"
			}
		}
		rep.OK = len(rep.Refusals()) == 0
	}
	for _, v := range rep.Verdicts {
		in.emit(&Check{Source: SourceImage, ID: v.ID, Status: v.Status, Summary: v.Summary,
			Detail: v.Detail, Fix: v.Fix, Docs: v.Docs, Blocks: v.Status == rom.Fail})
	}
	if err := rep.Err(); err != nil {
		return fail(err)
	}
	pl.region = rep.RegionMode
	reason := RegionDefault
	switch {
	case in.o.Region != "auto":
		reason = RegionRequested
	case pl.region:
		reason = RegionImageLayout
	}
	if !pl.region && in.o.Region == "auto" && len(pl.locked) > 0 {
		// The descriptor on the chip, which the flasher reads, rules what
		// can be written now, whatever the image's descriptor says.
		if _, ok := img.IFD.Region("bios"); !ok {
			return fail(exitcode.New(exitcode.Blocked,
				"use an image with an Intel flash descriptor for this board, or flash externally",
				"the chip's descriptor locks %s, so only its BIOS region can be written, but the image has no BIOS region", strings.Join(pl.locked, ", ")))
		}
		pl.region, reason = true, RegionLockedRegions
	}
	mac, err := in.macMode(img, pl.region)
	if err != nil {
		return fail(err)
	}

	if prev != nil && prev.Writing {
		pl.previous = prev
	}

	// A successful run: the probe, two reads for the backup, the write
	// (without the flasher's closing verify), and libreflash's own verify:
	// one read. A flasher without --flash-contents reads once more inside
	// the write; one without -n verifies inside it too.
	reads := readPasses + 1
	if !info.FlashContents {
		reads++
	}
	if !info.NoVerify {
		reads++
	}
	p := &Plan{
		Image:         &ImageRef{Path: img.Path, Size: img.Size(), SHA256: rep.SHA256},
		Chip:          pl.chip,
		Programmer:    programmerName(pl.prog),
		Region:        RegionFull,
		RegionReason:  reason,
		Locked:        pl.locked,
		Steps:         []string{StepBackup, StepWrite, StepVerify, StepRollback},
		ChipReads:     reads,
		ChipWrites:    1,
		FlasherRuns:   len(probe.Runs) + readPasses + 2,
		Percentages:   info.Progress,
		FlashContents: info.FlashContents,
		Restore:       !in.o.Rehearse && !in.o.NoRestore,
		Rehearsal:     rehearsal,
		Previous:      pl.previous,
		Archive:       src.ref(img),
		MAC:           mac,
	}
	if in.inhibitor != nil {
		p.Inhibitor = inhibitorState(in.inhibitor)
	}
	if pl.region {
		p.Region = RegionBIOS
	}
	if p.Restore {
		p.Steps = append(p.Steps, StepRestore)
	}
	if in.smisDisabled {
		p.Steps = append(p.Steps, StepEnableSMIs)
	}
	pl.event = p
	in.emit(p)
	in.stage(StagePlan, StatusOK)

	if in.o.Confirm != nil {
		q := fmt.Sprintf("Write %s to the %s chip now?", filepath.Base(img.Path), pl.chip.Name)
		if in.o.Rehearse {
			q = fmt.Sprintf("Rehearse writing %s to the emulated chip now?", filepath.Base(img.Path))
		}
		if !in.o.Confirm(q) {
			return nil, installCancelled("at the plan")
		}
	}
	return pl, nil
}

// blockedByFlasher diagnoses a failed read-only flasher run: nothing was
// written, so the run is blocked (exit 3) with the cause and its fix.
func (in *installer) blockedByFlasher(what string, log []byte, err error) error {
	res := diagnose.Diagnose(log, in.report.Facts)
	var tips []string
	for _, f := range res.Findings {
		in.emit(&Finding{f})
		if f.Fix != "" {
			tips = append(tips, f.Fix)
		}
	}
	if len(tips) == 0 {
		tips = append(tips, "see the flasher's log: "+in.rec.logPath)
	}
	return &InstallError{Result: ResultBlocked, Code: exitcode.Blocked,
		Err: fmt.Errorf("%s (nothing was written): %w", what, err), Tip: strings.Join(tips, "\n")}
}

func programmerName(p string) string {
	name, _, _ := strings.Cut(p, ":")
	return name
}
