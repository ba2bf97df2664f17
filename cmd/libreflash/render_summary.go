package main

import (
	"fmt"
	"strings"

	"libreflash/internal/diagnose"
	"libreflash/internal/pipeline"
)

// The one summary renderer, for backup and install (rules in render.go).

// resultText words summary.result, per command.
var resultText = map[string]map[string]string{
	"install": {
		pipeline.ResultOK:           "ok: written and verified",
		pipeline.ResultBlocked:      "blocked: nothing was touched",
		pipeline.ResultPrepared:     "prepared: reboot, then run the same command again",
		pipeline.ResultUnchanged:    "write failed: the chip is unchanged",
		pipeline.ResultRolledBack:   "write failed: the chip was rolled back to the backup and verified",
		pipeline.ResultUnknownState: "UNKNOWN STATE: do not reboot or power off",
		pipeline.ResultCancelled:    "cancelled before any write",
		pipeline.ResultFailed:       "failed",
	},
	"backup": {
		pipeline.ResultOK:        "ok: read twice, identical, kept",
		pipeline.ResultBlocked:   "blocked: no backup was made",
		pipeline.ResultCancelled: "cancelled: no backup was kept",
		pipeline.ResultFailed:    "failed: no backup was kept",
	},
}

// summaryOutcome is the diagnose outcome of a run's result, for the fixes
// of causes not yet shown.
var summaryOutcome = map[string]string{
	pipeline.ResultUnchanged:    diagnose.Unchanged,
	pipeline.ResultRolledBack:   diagnose.RolledBack,
	pipeline.ResultUnknownState: diagnose.UnknownState,
}

// dontReboot opens and closes the unknown-state screen.
const dontReboot = "DO NOT REBOOT OR POWER OFF"

func (r *renderer) summary(s *pipeline.Summary) {
	r.endBar()
	r.flushFixes()
	r.flushFindings(summaryOutcome[s.Result])
	r.summarized = true
	if s.Result == pipeline.ResultUnknownState {
		r.unknownScreen(s)
		return
	}
	next := r.nextTexts(s)
	if s.Error != "" {
		for _, l := range strings.Split(strings.TrimRight(s.Error, "\n"), "\n") {
			fmt.Fprintf(r.status, "libreflash: error: %s\n", l)
		}
		for _, l := range r.hintLines(s) {
			fmt.Fprintf(r.status, "libreflash: hint: %s\n", l)
		}
	}
	w := r.out
	res := resultText[r.command][s.Result]
	if res == "" {
		res = s.Result
	}
	if s.Rehearsal {
		res += " (rehearsal: emulated chip)"
	}
	if s.Result == pipeline.ResultPrepared && len(s.Next) > 0 && s.Next[0].ID == pipeline.NextShutDown {
		res = "prepared: shut down (do not reboot), power on, then run the same command again"
	}
	fmt.Fprintf(w, "\nresult:  %s\n", res)
	if s.Backup != nil {
		fmt.Fprintf(w, "backup:  %s\n", s.Backup.Path)
		fmt.Fprintf(w, "sha256:  %s\n", s.Backup.SHA256)
	}
	if s.SignatureSkipped {
		fmt.Fprintf(w, "warning: the release archive's signature was NOT checked (--no-verify-signature)\n")
	}
	if s.Chip != nil {
		reads := ""
		if s.ChipReads > 0 {
			reads = fmt.Sprintf("; read %d times", s.ChipReads)
		}
		fmt.Fprintf(w, "chip:    %s%s\n", chipText(*s.Chip), reads)
	}
	if s.Seconds > 0 {
		fmt.Fprintf(w, "time:    %s\n", seconds(s.Seconds))
	}
	if s.Log != "" {
		fmt.Fprintf(w, "log:     %s\n", s.Log)
	}
	if len(next) > 0 {
		fmt.Fprintln(w, "next:")
		for i, n := range next {
			fmt.Fprintf(w, "  %d. %s\n", i+1, n)
		}
	}
}

// hintLines are the error's hint lines that say something new: not a fix
// shown already, not something the summary says (the log, a next step).
func (r *renderer) hintLines(s *pipeline.Summary) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(s.Hint, "\n"), "\n") {
		if strings.TrimSpace(l) == "" || !r.once(l) {
			continue
		}
		// Said by the summary itself: the log's path, a next step's
		// command, that rebooting is safe.
		dup := s.Log != "" && strings.Contains(l, "log: "+s.Log)
		for _, n := range s.Next {
			if n.Command != "" && strings.Contains(l, n.Command) ||
				n.ID == pipeline.NextSafeToReboot && strings.Contains(l, "safe to reboot") {
				dup = true
			}
		}
		if !dup {
			out = append(out, l)
		}
	}
	return out
}

// unknownScreen is the summary of a chip in an unknown state: the last
// thing printed, at most 25 lines, DO NOT REBOOT first and last, each
// recovery step once with its exact command.
func (r *renderer) unknownScreen(s *pipeline.Summary) {
	w := r.out
	fmt.Fprintf(w, "\n%s: the chip is in an unknown state\n", dontReboot)
	if s.Error != "" {
		fmt.Fprintf(w, "why:     %s\n", strings.ReplaceAll(strings.TrimSpace(s.Error), "\n", " "))
	}
	if s.Backup != nil {
		fmt.Fprintf(w, "backup:  %s\n", s.Backup.Path)
		fmt.Fprintf(w, "sha256:  %s\n", s.Backup.SHA256)
	}
	if s.Log != "" {
		fmt.Fprintf(w, "log:     %s\n", s.Log)
	}
	fmt.Fprintln(w, "recovery, in this order:")
	for i, n := range r.nextTexts(s) {
		fmt.Fprintf(w, "  %d. %s\n", i+1, n)
	}
	fmt.Fprintf(w, "%s until the backup or the image is written and verified\n", dontReboot)
}

// nextTexts words the summary's next steps, in order.
func (r *renderer) nextTexts(s *pipeline.Summary) []string {
	var out []string
	unknown := s.Result == pipeline.ResultUnknownState
	for _, n := range s.Next {
		var t string
		switch n.ID {
		case pipeline.NextReboot:
			t = "reboot: the machine starts Libreboot"
			if s.Result == pipeline.ResultPrepared {
				t = "reboot, so that the changes take effect"
			}
		case pipeline.NextShutDown:
			t = "shut down (do not reboot), then power on again (some models power on by themselves)"
		case pipeline.NextKeepBackup:
			t = "keep the backup (" + n.Path + ") somewhere off this machine: it is the way back to the factory firmware"
		case pipeline.NextOldSettings:
			t = "firmware settings changed for this (Secure Boot, flash protection) do not carry over: Libreboot has its own"
		case pipeline.NextSafeToReboot:
			t = "it is safe to reboot: the chip holds its old firmware"
		case pipeline.NextFixAndRetry:
			switch {
			case s.Rehearsal && len(r.wouldBlock) > 0:
				t = fmt.Sprintf("the real install would stop at the checks (%s): fix them as shown above, then run: %s",
					strings.Join(r.wouldBlock, ", "), n.Command)
			case s.Result == pipeline.ResultBlocked:
				t = "fix what blocks, as shown above, then run again: " + n.Command
			default:
				t = "fix the cause shown above, then run again: " + n.Command
			}
		case pipeline.NextRunAgain:
			t = "run again: " + n.Command
			if unknown {
				t = "or run the install again: " + n.Command
			}
		case pipeline.NextRealInstall:
			t = "the rehearsal went through; the real install is: " + n.Command
		case pipeline.NextKeepPower:
			t = "keep the machine on: do not reboot, power off, suspend or close the lid; plug in the charger"
		case pipeline.NextCopyBackup:
			t = "copy the backup off this machine now (a USB stick): " + n.Path
		case pipeline.NextProtectionsStay:
			t = "the protections libreflash lowered stay lowered: the flasher needs them to recover"
		case pipeline.NextSMIsStay:
			t = "SMIs stay disabled (dell_flash_unlock): writing the chip needs them off; once it holds a good image, run '" +
				n.Command + "' to enable them before you shut down"
		case pipeline.NextRetryBackup:
			t = "write the backup back: " + n.Command
		case pipeline.NextExternal:
			t = "if neither ends verified, write the backup with an external programmer from another computer: " + n.Docs
		default:
			t = n.ID
			if n.Command != "" {
				t += ": " + n.Command
			}
		}
		out = append(out, t)
	}
	return out
}
