package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/diagnose"
	"libreflash/internal/pipeline"
	"libreflash/internal/runner"
	"libreflash/internal/testutil"
)

// Screens of whole runs, as the pipeline tells them: each scenario is a
// realistic event stream, rendered the three ways into a golden
// (testdata/render/screens), and held to the rules of render.go.

const (
	scrBackup  = "/var/lib/libreflash/backups/20261201T120000Z-7459GW8/backup.rom"
	scrSHA     = "5f0c6e1b1f1e5a2c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c"
	scrLog     = "/var/lib/libreflash/runs/20261201T120000Z/flasher.log"
	scrRetry   = "sudo libreflash install libreboot.rom"
	scrManual  = "sudo /usr/sbin/flashprog -p internal -w " + scrBackup
	lockdownFx = "Remove lockdown=integrity from the kernel command line (bootloader configuration) and reboot."
	writeFix   = "The chipset refused the erase: the flash is write-protected by the firmware (BIOS_CNTL)."
)

func ev(p pipeline.Payload) pipeline.Event { return pipeline.Event{Data: p} }

var scrChip = pipeline.ChipRef{Vendor: "Winbond", Name: "W25Q64.V", Size: 8 << 20}

func scrPlan() pipeline.Event {
	return ev(&pipeline.Plan{Image: &pipeline.ImageRef{Path: "libreboot.rom", Size: 8 << 20, SHA256: scrSHA},
		Chip: scrChip, Programmer: "internal", Region: pipeline.RegionFull, RegionReason: pipeline.RegionDefault,
		Steps:     []string{pipeline.StepBackup, pipeline.StepWrite, pipeline.StepVerify, pipeline.StepRollback, pipeline.StepRestore},
		ChipReads: 3, ChipWrites: 1, FlasherRuns: 5, Percentages: true, FlashContents: true, Restore: true})
}

// scrBackupRun is check, plan and a verified backup.
func scrBackupRun() []pipeline.Event {
	e := []pipeline.Event{
		ev(&pipeline.FlasherInfo{Path: "/usr/sbin/flashprog", Kind: "flashprog", Version: "v1.5", Progress: true, FlashContents: true}),
		ev(&pipeline.Stage{Stage: pipeline.StageLock, Status: pipeline.StatusStart}),
		ev(&pipeline.Stage{Stage: pipeline.StageLock, Status: pipeline.StatusOK}),
		ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusStart}),
		ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "root", Status: "pass", Summary: "running as root"}),
		ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "power", Status: "warn", Summary: "on battery (64%)"}),
		ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusOK}),
		ev(&pipeline.Stage{Stage: pipeline.StagePlan, Status: pipeline.StatusStart}),
		scrPlan(),
		ev(&pipeline.Stage{Stage: pipeline.StagePlan, Status: pipeline.StatusOK}),
		ev(&pipeline.Stage{Stage: pipeline.StageBackup, Status: pipeline.StatusStart}),
	}
	for pass := 1; pass <= 2; pass++ {
		for _, pc := range []int{-1, 50, 100, 101} {
			p := &pipeline.Progress{Stage: pipeline.StageBackup, Op: pipeline.PhaseRead, Pass: pass, Passes: 2}
			switch pc {
			case -1:
				p.Status = pipeline.StatusStart
			case 101:
				p.Status, p.Percent = pipeline.StatusOK, pipeline.Percent(100)
			default:
				p.Percent = pipeline.Percent(pc)
			}
			e = append(e, ev(p))
		}
	}
	return append(e,
		ev(&pipeline.VerifiedBackup{BackupRef: pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA}, Role: pipeline.RoleBackup, Reads: 2}),
		ev(&pipeline.Stage{Stage: pipeline.StageBackup, Status: pipeline.StatusOK}))
}

func scrWrite(stage string, ok bool) []pipeline.Event {
	end := pipeline.StatusOK
	if !ok {
		end = pipeline.StatusFail
	}
	return []pipeline.Event{
		ev(&pipeline.Stage{Stage: stage, Status: pipeline.StatusStart}),
		ev(&pipeline.Progress{Stage: stage, Op: pipeline.PhaseErase, Status: pipeline.StatusStart}),
		ev(&pipeline.Progress{Stage: stage, Op: pipeline.PhaseErase, Percent: pipeline.Percent(30)}),
		ev(&pipeline.Progress{Stage: stage, Op: pipeline.PhaseErase, Status: end, Percent: pipeline.Percent(30)}),
	}
}

func scrWriteFinding() pipeline.Event {
	return ev(&pipeline.Finding{Finding: diagnose.Finding{ID: "bios_lock", Severity: diagnose.Fatal, Line: 12,
		Evidence: "Erase region failed", Summary: "firmware write protection stopped the erase", Fix: writeFix, Count: 2}})
}

var scrUnknownNext = []pipeline.Next{
	{ID: pipeline.NextKeepPower},
	{ID: pipeline.NextCopyBackup, Path: scrBackup, SHA256: scrSHA},
	{ID: pipeline.NextProtectionsStay},
	{ID: pipeline.NextRetryBackup, Command: scrManual},
	{ID: pipeline.NextRunAgain, Command: scrRetry},
	{ID: pipeline.NextExternal, Path: scrBackup, Docs: "https://libreboot.org/docs/install/spi.html"},
}

var screens = []struct {
	name    string
	command string
	events  func() []pipeline.Event
}{
	{"install-ok", "install", func() []pipeline.Event {
		e := append(scrBackupRun(), scrWrite(pipeline.StageWrite, true)...)
		return append(e,
			ev(&pipeline.Stage{Stage: pipeline.StageWrite, Status: pipeline.StatusOK}),
			ev(&pipeline.Stage{Stage: pipeline.StageVerify, Status: pipeline.StatusStart}),
			ev(&pipeline.Verify{Against: pipeline.AgainstImage, OK: true}),
			ev(&pipeline.Stage{Stage: pipeline.StageVerify, Status: pipeline.StatusOK}),
			ev(&pipeline.Stage{Stage: pipeline.StageRestore, Status: pipeline.StatusSkip, Reason: pipeline.ReasonNoJournal}),
			ev(&pipeline.Summary{Result: pipeline.ResultOK, Backup: &pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA},
				Chip: &scrChip, ChipReads: 3, FlasherRuns: 5, Log: scrLog, Seconds: 1,
				Next: []pipeline.Next{{ID: pipeline.NextReboot}, {ID: pipeline.NextKeepBackup, Path: scrBackup}, {ID: pipeline.NextOldSettings}}}))
	}},
	{"install-blocked", "install", func() []pipeline.Event {
		return []pipeline.Event{
			ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusStart}),
			ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "lockdown", Status: "fail", Summary: "kernel lockdown is active: integrity", Fix: lockdownFx, Blocks: true}),
			ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "devmem", Status: "fail", Summary: "/dev/mem refuses to map ICH RCRB", Fix: lockdownFx, Blocks: true}),
			ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "iopl", Status: "fail", Summary: "iopl(3) refused to root", Fix: lockdownFx, Blocks: true}),
			ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusFail, Reason: pipeline.ReasonBlocked}),
			ev(&pipeline.Summary{Result: pipeline.ResultBlocked, Exit: 3, Log: scrLog, Seconds: 1,
				Error: "blocked before any write by: lockdown, devmem, iopl; nothing was touched",
				Hint:  lockdownFx + "\nfix what the failing checks say, then run again: " + scrRetry,
				Next:  []pipeline.Next{{ID: pipeline.NextFixAndRetry, Command: scrRetry}}}),
		}
	}},
	{"install-rehearsal-would-block", "install", func() []pipeline.Event {
		e := []pipeline.Event{
			ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusStart}),
			ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "lockdown", Status: "fail", Summary: "kernel lockdown is active: integrity", Fix: lockdownFx}),
			ev(&pipeline.Check{Source: pipeline.SourceMachine, ID: "iopl", Status: "fail", Summary: "iopl(3) refused to root", Fix: lockdownFx}),
			ev(&pipeline.Stage{Stage: pipeline.StageCheck, Status: pipeline.StatusOK}),
		}
		p := scrPlan()
		p.Data.(*pipeline.Plan).Rehearsal = &pipeline.Rehearsal{Emulate: "W25Q64FV", ChipFile: "/tmp/lf/rehearsals/runs/x/chip.bin",
			For: "internal", WouldBlock: []string{"lockdown", "iopl"}}
		e = append(e, p)
		return append(e, ev(&pipeline.Summary{Result: pipeline.ResultOK, Rehearsal: true, Chip: &scrChip, ChipReads: 3, Log: scrLog, Seconds: 1,
			Next: []pipeline.Next{{ID: pipeline.NextFixAndRetry, Command: scrRetry}}}))
	}},
	{"install-rolled-back", "install", func() []pipeline.Event {
		e := append(scrBackupRun(), scrWrite(pipeline.StageWrite, false)...)
		e = append(e, ev(&pipeline.Stage{Stage: pipeline.StageWrite, Status: pipeline.StatusFail}), scrWriteFinding(),
			ev(&pipeline.ChipState{State: pipeline.ChipUnknown, Basis: pipeline.BasisNoEvidence}))
		e = append(e, scrWrite(pipeline.StageRollback, true)...)
		return append(e, ev(&pipeline.Stage{Stage: pipeline.StageRollback, Status: pipeline.StatusOK}),
			ev(&pipeline.ChipState{State: pipeline.ChipRolledBack, Basis: pipeline.BasisReadBack}),
			ev(&pipeline.Summary{Result: pipeline.ResultRolledBack, Exit: 4, Backup: &pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA},
				Chip: &scrChip, ChipReads: 4, Log: scrLog, Seconds: 1,
				Error: "the write failed (firmware write protection stopped the erase); the chip was rolled back to the verified backup and verified",
				Hint:  writeFix + "\nthe chip holds its old firmware again; it is safe to reboot\nthe flasher's log: " + scrLog,
				Next:  []pipeline.Next{{ID: pipeline.NextSafeToReboot}, {ID: pipeline.NextFixAndRetry, Command: scrRetry}, {ID: pipeline.NextKeepBackup, Path: scrBackup}}}))
	}},
	{"install-unknown-state", "install", scrUnknown},
	{"backup-strays", "backup", func() []pipeline.Event {
		// The flasher (a wrapper script, say) left a process in its group
		// after read 1, and one that left the group held its output after
		// read 2.
		var e []pipeline.Event
		for _, x := range scrBackupRun() {
			e = append(e, x)
			p, ok := x.Data.(*pipeline.Progress)
			if !ok || p.Status != pipeline.StatusOK {
				continue
			}
			s := &pipeline.Strays{Stage: pipeline.StageBackup, Op: pipeline.PhaseRead, Pass: p.Pass, Passes: p.Passes, PID: 4100 + p.Pass}
			if p.Pass == 1 {
				s.Killed = []runner.Process{{PID: 4200, Name: "sleep"}}
			} else {
				s.Held, s.Waited = []runner.Process{{PID: 4300, Name: "logger"}}, 2
			}
			e = append(e, ev(s))
		}
		return append(e, ev(&pipeline.Summary{Result: pipeline.ResultOK, Backup: &pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA},
			Chip: &scrChip, ChipReads: 2, Log: scrLog, Seconds: 1}))
	}},
	{"backup-ok", "backup", func() []pipeline.Event {
		return append(scrBackupRun(), ev(&pipeline.Summary{Result: pipeline.ResultOK, Backup: &pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA},
			Chip: &scrChip, ChipReads: 2, Log: scrLog, Seconds: 1}))
	}},
}

func scrUnknown() []pipeline.Event {
	e := append(scrBackupRun(), scrWrite(pipeline.StageWrite, false)...)
	e = append(e, ev(&pipeline.Stage{Stage: pipeline.StageWrite, Status: pipeline.StatusFail}), scrWriteFinding(),
		ev(&pipeline.ChipState{State: pipeline.ChipUnknown, Basis: pipeline.BasisFlasherUnsure}))
	e = append(e, scrWrite(pipeline.StageRollback, false)...)
	return append(e, ev(&pipeline.Stage{Stage: pipeline.StageRollback, Status: pipeline.StatusFail}), scrWriteFinding(),
		ev(&pipeline.ChipState{State: pipeline.ChipUnknown, Basis: pipeline.BasisNoEvidence}),
		ev(&pipeline.Summary{Result: pipeline.ResultUnknownState, Exit: 5, Backup: &pipeline.BackupRef{Path: scrBackup, SHA256: scrSHA},
			Chip: &scrChip, ChipReads: 4, Log: scrLog, Seconds: 1,
			Error: "the write failed (firmware write protection stopped the erase) and writing the backup back failed too: the chip is in an unknown state; do not reboot or power off",
			Hint:  "keep the machine on\nretry writing the backup: " + scrManual + "\nor retry the install: " + scrRetry,
			Next:  scrUnknownNext}))
}

func TestRenderScreens(t *testing.T) {
	for _, s := range screens {
		t.Run(s.name, func(t *testing.T) {
			got := renderModes(s.command, s.events())
			testutil.Golden(t, filepath.Join("testdata", "render", "screens", s.name+".golden"), got, *update)
		})
	}
}

// plainRun renders events as plain lines: stderr and stdout apart.
func plainRun(command string, events []pipeline.Event) (stderr, stdout string) {
	var o, e bytes.Buffer
	r := &renderer{command: command, mode: renderPlain, out: &o, status: &e}
	for _, x := range events {
		r.Event(x)
	}
	return e.String(), o.String()
}

// Issue 17: the unknown-state screen fits in 25 lines, says DO NOT REBOOT
// first and last, and gives each recovery step once, with its command; the
// fix of a cause seen twice (write and rollback) is printed once.
func TestUnknownStateScreen(t *testing.T) {
	stderr, stdout := plainRun("install", scrUnknown())
	screen := strings.Split(strings.Trim(stdout, "\n"), "\n")
	if len(screen) > 25 {
		t.Errorf("the unknown-state screen has %d lines:\n%s", len(screen), stdout)
	}
	if !strings.HasPrefix(screen[0], "DO NOT REBOOT") || !strings.HasPrefix(screen[len(screen)-1], "DO NOT REBOOT") {
		t.Errorf("DO NOT REBOOT is not the first and last line:\n%s", stdout)
	}
	all := stderr + stdout
	for _, once := range []string{scrManual, scrRetry, "https://libreboot.org/docs/install/spi.html", "keep the machine on"} {
		if n := strings.Count(all, once); n != 1 {
			t.Errorf("%q printed %d times:\n%s", once, n, all)
		}
	}
	// The cause's own fix waits: a half-written chip comes first
	// (diagnose.Fix for an unknown state), and that is the screen.
	if n := strings.Count(all, writeFix); n > 0 {
		t.Errorf("the cause's fix is printed %d times before the recovery:\n%s", n, all)
	}
	if strings.Contains(all, "safe to reboot") || strings.Contains(all, "you may reboot") {
		t.Errorf("an unknown state mentions rebooting as safe:\n%s", all)
	}
	if strings.Contains(stderr, "libreflash: error:") || strings.Contains(stderr, "libreflash: hint:") {
		t.Errorf("the error and hint come after the screen, hiding its last line:\n%s", stderr)
	}
}

// A blocked run prints each fix once (three checks, one cause), and a
// usage-free next step that agrees with the checks.
func TestBlockedFixOnce(t *testing.T) {
	for _, s := range screens {
		if s.name != "install-blocked" && s.name != "install-rehearsal-would-block" {
			continue
		}
		stderr, stdout := plainRun(s.command, s.events())
		all := stderr + stdout
		if n := strings.Count(all, lockdownFx); n != 1 {
			t.Errorf("%s: the fix is printed %d times:\n%s", s.name, n, all)
		}
		if s.name == "install-rehearsal-would-block" {
			if strings.Contains(all, "the real install is:") {
				t.Errorf("a rehearsal whose checks block says the real install comes next:\n%s", all)
			}
			if !strings.Contains(stdout, "would stop at the checks (lockdown, iopl)") {
				t.Errorf("next does not say why the real install would stop:\n%s", stdout)
			}
		}
	}
}

// A rolled-back write says once that rebooting is safe, and names the log
// once: the error's hint does not repeat the summary.
func TestRolledBackSaidOnce(t *testing.T) {
	for _, s := range screens {
		if s.name != "install-rolled-back" {
			continue
		}
		stderr, stdout := plainRun(s.command, s.events())
		all := stderr + stdout
		for _, once := range []string{"safe to reboot", scrLog, writeFix} {
			if n := strings.Count(all, once); n != 1 {
				t.Errorf("%q printed %d times:\n%s", once, n, all)
			}
		}
	}
}
