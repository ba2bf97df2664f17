package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/rom"
	"libreflash/internal/runner"
)

// plan learns the chip from the flasher, checks the image against it and
// the machine, chooses the region mode, shows the plan and asks to go on.
func (in *installer) plan(ctx context.Context) error {
	in.stage(StagePlan, StatusStart)
	fail := func(err error) error {
		in.stage(StagePlan, StatusFail)
		return err
	}
	in.prog = in.o.Programmer
	var rehearsal *Rehearsal
	if in.o.Rehearse {
		ec, err := EmulatedChipFor(in.img.Size(), in.fl.Kind)
		if err != nil {
			return fail(err)
		}
		chipFile := filepath.Join(in.run.dir, "chip.bin")
		if err := seedChip(chipFile, in.o.RehearseFrom, in.img.Bytes()); err != nil {
			return fail(err)
		}
		// The chip file's path goes into the dummy's comma-separated
		// parameters: one with a comma gets a comma-free stand-in.
		image, done, err := dummyImagePath(chipFile)
		if err != nil {
			return fail(err)
		}
		in.cleanups = append(in.cleanups, done)
		in.prog = ec.Programmer(image, in.o.RehearseParams...)
		rehearsal = &Rehearsal{Emulate: ec.Emulate, ChipFile: chipFile, SeededFrom: in.o.RehearseFrom,
			For: in.o.Programmer, WouldBlock: in.wouldBlock}
	}

	var buf bytes.Buffer
	fmt.Fprintf(in.run.log, "# libreflash: plan: probe: %s\n", runner.QuoteArgv([]string{in.fl.Path, "-p", in.prog}))
	probe, err := in.fl.Probe(ctx, in.prog, in.logWriter(&buf))
	in.runs.add(len(probe.Runs)) // --flash-name (and --flash-size if its chip line had no size)
	if err != nil {
		if runner.IsCancelled(err) {
			return fail(installCancelled("while probing the chip"))
		}
		return fail(in.blockedByFlasher("the flasher cannot reach the chip", buf.Bytes(), err))
	}
	in.chip = probe.Chip
	in.probeRuns = len(probe.Runs)
	// The flasher's report of the descriptor on the chip (internal
	// programmer): regions other than BIOS the host may not write.
	locked := probe.LockedNames("BIOS")

	rep := rom.Check(in.img, rom.CheckOptions{ChipSize: in.chip.SizeBytes, Machine: rom.ReadMachine(in.o.Env.Root),
		ForceBoard: in.o.ForceBoard, Region: in.o.Region})
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
		in.emit(Event{Data: &Check{Source: SourceImage, ID: v.ID, Status: v.Status, Summary: v.Summary,
			Detail: v.Detail, Fix: v.Fix, Docs: v.Docs, Blocks: v.Status == rom.Fail}})
	}
	if err := rep.Err(); err != nil {
		return fail(err)
	}
	in.region = rep.RegionMode
	reason := RegionDefault
	switch {
	case in.o.Region != "auto":
		reason = RegionRequested
	case in.region:
		reason = RegionImageLayout
	}
	if !in.region && in.o.Region == "auto" && len(locked) > 0 {
		// The descriptor on the chip, which the flasher reads, rules what
		// can be written now, whatever the image's descriptor says.
		if _, ok := in.img.IFD.Region("bios"); !ok {
			return fail(exitcode.New(exitcode.Blocked,
				"use an image with an Intel flash descriptor for this board, or flash externally",
				"the chip's descriptor locks %s, so only its BIOS region can be written, but the image has no BIOS region", strings.Join(locked, ", ")))
		}
		in.region, reason = true, RegionLockedRegions
	}

	// The checked bytes are what gets written: a private copy, so that the
	// file cannot change between the checks and the write.
	in.image = filepath.Join(in.run.dir, "image.rom")
	if err := os.WriteFile(in.image, in.img.Bytes(), 0o600); err != nil {
		return fail(err)
	}

	reads := 3 // two for the backup, one by the flasher's verify
	if !in.fl.Caps.FlashContents {
		reads = 4 // the flasher reads the chip once more before writing
	}
	p := &Plan{
		Image:         &ImageRef{Path: in.img.Path, Size: in.img.Size(), SHA256: in.img.SHA256()},
		Chip:          ChipRef{Vendor: in.chip.Vendor, Name: in.chip.Name, Size: in.chip.SizeBytes},
		Programmer:    programmerName(in.prog),
		Region:        RegionFull,
		RegionReason:  reason,
		Locked:        locked,
		Steps:         []string{StepBackup, StepWrite, StepVerify, StepRollback},
		ChipReads:     reads,
		ChipWrites:    1,
		FlasherRuns:   in.probeRuns + 2 + 1, // the probe, two reads, the write
		Percentages:   in.fl.Caps.Progress,
		FlashContents: in.fl.Caps.FlashContents,
		Restore:       !in.o.Rehearse && !in.o.NoRestore,
		Rehearsal:     rehearsal,
	}
	if in.region {
		p.Region = RegionBIOS
	}
	if p.Restore {
		p.Steps = append(p.Steps, StepRestore)
	}
	in.emit(Event{Data: p})
	in.stage(StagePlan, StatusOK)

	if in.o.Confirm != nil {
		q := fmt.Sprintf("Write %s to the %s chip now?", filepath.Base(in.img.Path), in.chip.Name)
		if in.o.Rehearse {
			q = fmt.Sprintf("Rehearse writing %s to the emulated chip now?", filepath.Base(in.img.Path))
		}
		if !in.o.Confirm(q) {
			return installCancelled("at the plan")
		}
	}
	return nil
}

// blockedByFlasher diagnoses a failed read-only flasher run: nothing was
// written, so the run is blocked (exit 3) with the cause and its fix.
func (in *installer) blockedByFlasher(what string, log []byte, err error) error {
	res := diagnose.Diagnose(log, in.report.Facts)
	var tips []string
	for _, f := range res.Findings {
		in.finding(f)
		if f.Fix != "" {
			tips = append(tips, f.Fix)
		}
	}
	if len(tips) == 0 {
		tips = append(tips, "see the flasher's log: "+in.run.logPath)
	}
	return &InstallError{Result: ResultBlocked, Code: exitcode.Blocked,
		Err: fmt.Errorf("%s (nothing was written): %w", what, err), Tip: strings.Join(tips, "\n")}
}

func (in *installer) finding(f diagnose.Finding) {
	in.emit(Event{Data: &Finding{f}})
}

// logWriter is where a flasher run's output goes: the run's flasher.log
// and, for diagnosis, buf.
func (in *installer) logWriter(buf *bytes.Buffer) io.Writer {
	return io.MultiWriter(in.run.log, buf)
}

func programmerName(p string) string {
	name, _, _ := strings.Cut(p, ":")
	return name
}
