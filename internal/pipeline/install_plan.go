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
	if in.o.Rehearse {
		ec, err := EmulatedChipFor(in.img.Size(), in.fl.Kind)
		if err != nil {
			return fail(err)
		}
		chipFile := filepath.Join(in.run.dir, "chip.bin")
		if err := seedChip(chipFile, in.o.RehearseFrom, in.img.Bytes()); err != nil {
			return fail(err)
		}
		in.prog = ec.Programmer(chipFile, in.o.RehearseParams...)
		from := "a generated factory-like image"
		if in.o.RehearseFrom != "" {
			from = in.o.RehearseFrom
		}
		in.log("info", fmt.Sprintf("rehearsal: emulated %s chip (%s), seeded from %s, backed by %s",
			ec.Emulate, mib(in.img.Size()), from, chipFile))
	}

	var buf bytes.Buffer
	fmt.Fprintf(in.run.log, "# libreflash: plan: probe: %s\n", runner.QuoteArgv([]string{in.fl.Path, "-p", in.prog}))
	probe, err := in.fl.Probe(ctx, in.prog, in.logWriter(&buf))
	if err != nil {
		if runner.IsCancelled(err) {
			return fail(installCancelled("while probing the chip"))
		}
		return fail(in.blockedByFlasher("the flasher cannot reach the chip", buf.Bytes(), err))
	}
	in.chip = probe.Chip
	// The flasher's report of the descriptor on the chip (internal
	// programmer): regions other than BIOS the host may not write.
	locked := probe.LockedNames("BIOS")
	in.log("info", fmt.Sprintf("chip: %s %q, %s (%s)", in.chip.Vendor, in.chip.Name, mib(in.chip.SizeBytes), in.fl.Kind))

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
		level := map[string]string{rom.Warn: "warn", rom.Fail: "error"}[v.Status]
		if level == "" {
			level = "info"
		}
		msg := fmt.Sprintf("[%s] image %s: %s", v.Status, v.ID, v.Summary)
		if v.Status == rom.Fail && v.Fix != "" {
			msg += "\n  fix: " + v.Fix
		}
		in.log(level, msg)
	}
	if err := rep.Err(); err != nil {
		return fail(err)
	}
	in.region = rep.RegionMode
	if !in.region && in.o.Region == "auto" && len(locked) > 0 {
		// The descriptor on the chip, which the flasher reads, rules what
		// can be written now, whatever the image's descriptor says.
		if _, ok := in.img.IFD.Region("bios"); !ok {
			return fail(exitcode.New(exitcode.Blocked,
				"use an image with an Intel flash descriptor for this board, or flash externally",
				"the chip's descriptor locks %s, so only its BIOS region can be written, but the image has no BIOS region", strings.Join(locked, ", ")))
		}
		in.region = true
		in.log("info", "the flasher reports locked regions ("+strings.Join(locked, ", ")+"): writing the BIOS region only")
	}

	// The checked bytes are what gets written: a private copy, so that the
	// file cannot change between the checks and the write.
	in.image = filepath.Join(in.run.dir, "image.rom")
	if err := os.WriteFile(in.image, in.img.Bytes(), 0o600); err != nil {
		return fail(err)
	}

	passes := 3
	how := "flasher's --flash-contents reuses the backup, so the write reads nothing"
	if !in.fl.Caps.FlashContents {
		passes = 4
		how = "the flasher reads the chip once more before writing (no --flash-contents)"
	}
	mode := "whole chip"
	if in.region {
		mode = "BIOS region only (--ifd -i bios -N)"
	}
	progress := "stage timers (this flasher has no --progress)"
	if in.fl.Caps.Progress {
		progress = "progress bars (--progress)"
	}
	steps := []string{
		fmt.Sprintf("image: %s (%s, sha256 %s)", in.img.Path, mib(in.img.Size()), in.img.SHA256()),
		fmt.Sprintf("chip: %s %s, %s, via -p %s", in.chip.Vendor, in.chip.Name, mib(in.chip.SizeBytes), programmerName(in.prog)),
		"1. back up: read the chip twice; the two reads must match (sha256)",
		fmt.Sprintf("2. write: %s, %s; %s", mode, progress, how),
		"3. verify: the flasher's own verification (one read)",
		"4. on failure: roll back to the verified backup, the same way",
		fmt.Sprintf("expected chip passes: %d reads, 1 write", passes),
	}
	if in.o.Rehearse {
		steps = append(steps, "rehearsal: only the emulated chip is written; protections are not touched")
	} else if in.o.NoRestore {
		steps = append(steps, "5. protections: left as they are (--no-restore)")
	} else {
		steps = append(steps, "5. protections: whatever 'libreflash prepare' lowered is restored after a verified write")
	}
	in.log("info", "plan:\n  "+strings.Join(steps, "\n  "))
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
	in.emit(Event{Type: TypeFinding, Finding: &Finding{ID: f.ID, Severity: f.Severity, Line: f.Line,
		Evidence: f.Evidence, Summary: f.Summary, Fix: f.Fix, Docs: f.Docs}})
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

func mib(n int64) string {
	if n > 0 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}
