package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"libreflash/internal/diagnose"
	"libreflash/internal/pipeline"
	"libreflash/internal/preflight"
	"libreflash/internal/runner"
	"libreflash/internal/unlock"
)

// The text rendering of each event type but progress and the summary,
// shared by the terminal and plain modes (rules in render.go).

var stageNames = map[string]string{
	pipeline.StageCheck: "checks", pipeline.StagePrepare: "prepare", pipeline.StagePlan: "plan",
	pipeline.StageLock: "lock", pipeline.StageBackup: "backup", pipeline.StageWrite: "write",
	pipeline.StageVerify: "verify", pipeline.StageRollback: "rollback", pipeline.StageRestore: "restore",
	pipeline.StageUnlock: "unlock",
}

var skipReasons = map[string]string{
	pipeline.ReasonRehearsal:  "a rehearsal touches no protections",
	pipeline.ReasonNoJournal:  "nothing to restore",
	pipeline.ReasonNoRestore:  "--no-restore: undo them later with 'sudo libreflash restore'",
	pipeline.ReasonDeclined:   "declined",
	pipeline.ReasonBlocked:    "blocked",
	pipeline.ReasonStillFails: "the checks still fail",
}

func (r *renderer) stage(s *pipeline.Stage) {
	name := stageNames[s.Stage]
	if name == "" {
		name = s.Stage
	}
	why := ""
	if t := skipReasons[s.Reason]; t != "" {
		why = " (" + t + ")"
	}
	switch s.Status {
	case pipeline.StatusOK:
		r.endBar()
		switch {
		case s.Stage == pipeline.StagePlan && r.plan != nil && r.plan.Image == nil:
			// backup: the plan is the chip
			r.line("plan: %s", chipText(r.plan.Chip))
		case s.Stage == pipeline.StageBackup && r.backup != nil:
			r.line("backup: ok, %d identical reads", r.backup.Reads)
		default:
			r.line("%s: ok", name)
		}
	case pipeline.StatusFail:
		r.endBar()
		r.line("%s: failed%s", name, why)
	case pipeline.StatusSkip:
		r.line("%s: skipped%s", name, why)
	}
	if s.Status != pipeline.StatusStart {
		r.flushFixes()
	}
	if s.Status == pipeline.StatusFail && (s.Stage == pipeline.StageWrite || s.Stage == pipeline.StageVerify || s.Stage == pipeline.StageRollback) {
		return // the chip's state decides the findings' fixes
	}
	if s.Status != pipeline.StatusStart {
		r.flushFindings("")
	}
}

// pendingFix is a failing check's fix, printed once per distinct text when
// its stage ends, with every check it fixes.
type pendingFix struct {
	ids []string
	fix string
}

// check shows a failing or warning check with its summary; passing checks
// stay quiet ('libreflash check' lists them all). Fixes wait for the end of
// the stage, so that one cause behind several checks (lockdown: devmem,
// iopl) is fixed once.
func (r *renderer) check(c *pipeline.Check) {
	id := c.ID
	if c.Source == pipeline.SourceImage {
		id = "image " + c.ID
	}
	if c.Status == "pass" && r.failed[id] {
		// It failed earlier in this run (the board check before the
		// unlock stage): say that it passes now.
		delete(r.failed, id)
		r.line("%s %s: %s", marks[preflight.Pass], id, c.Summary)
		return
	}
	if c.Status != "fail" && c.Status != "warn" {
		return
	}
	if c.Status == "fail" {
		if r.failed == nil {
			r.failed = map[string]bool{}
		}
		r.failed[id] = true
	}
	note := ""
	if c.Status == "fail" && !c.Blocks {
		note = " (a real run stops here)"
		r.wouldBlock = append(r.wouldBlock, c.ID)
	}
	r.line("%s %s: %s%s", marks[preflight.Status(c.Status)], id, c.Summary, note)
	if c.Fix == "" || c.Status != "fail" {
		return
	}
	for i := range r.fixes {
		if r.fixes[i].fix == c.Fix {
			r.fixes[i].ids = append(r.fixes[i].ids, id)
			return
		}
	}
	r.fixes = append(r.fixes, pendingFix{ids: []string{id}, fix: c.Fix})
}

func (r *renderer) flushFixes() {
	for _, f := range r.fixes {
		if r.once(f.fix) {
			r.line("fix (%s):\n%s", strings.Join(f.ids, ", "), indent(f.fix, "  "))
		}
	}
	r.fixes = nil
}

var stepText = map[string]string{
	pipeline.StepBackup:     "back up: read the chip twice; the reads must be identical",
	pipeline.StepVerify:     "verify: read the chip back and compare it with the image",
	pipeline.StepRollback:   "on failure: write the verified backup back, the same way",
	pipeline.StepRestore:    "restore: raise again the protections 'prepare' lowered",
	pipeline.StepEnableSMIs: "enable SMIs: run dell_flash_unlock again, after the verified write or a failure that leaves the chip known (shutdown needs them)",
}

var regionReasons = map[string]string{
	pipeline.RegionRequested:     "as asked",
	pipeline.RegionImageLayout:   "the image's layout asks for it",
	pipeline.RegionLockedRegions: "the chip's descriptor locks the other regions",
	pipeline.RegionLayoutDiffers: "the image's layout differs from the chip's",
}

// planned shows an install's plan; a backup's (no image) is one line at the
// end of its plan stage.
func (r *renderer) planned(p *pipeline.Plan) {
	if r.plan != nil && len(p.Layout) > 0 {
		// The plan again, after the backup showed the chip's layout.
		r.line("the image's flash descriptor places %s elsewhere than the chip's: writing the whole chip instead of its BIOS region",
			strings.Join(p.Layout, ", "))
		r.plan = p
		return
	}
	r.plan = p
	if p.Rehearsal != nil {
		r.wouldBlock = p.Rehearsal.WouldBlock
	}
	if p.Image == nil {
		return
	}
	lines := []string{
		fmt.Sprintf("image: %s (%s, sha256 %s)", p.Image.Path, pipeline.HumanSize(p.Image.Size), p.Image.SHA256),
		fmt.Sprintf("chip:  %s, via -p %s", chipText(p.Chip), p.Programmer),
	}
	if ar := p.Archive; ar != nil {
		lines = append(lines, "archive: "+archiveLine(ar))
	}
	if m := macPlanText[p.MAC]; m != "" {
		lines = append(lines, "MAC address: "+m)
	} else if p.MAC != "" {
		lines = append(lines, "MAC address: "+p.MAC+" (--mac)")
	}
	if h := p.Rehearsal; h != nil {
		from := "a generated factory-like image"
		if h.SeededFrom != "" {
			from = h.SeededFrom
		}
		lines = append(lines, fmt.Sprintf("rehearsal: an emulated %s chip, seeded from %s (%s); the real chip is not touched",
			h.Emulate, from, h.ChipFile))
		if len(h.WouldBlock) > 0 {
			lines = append(lines, fmt.Sprintf("a real run with -p %s stops at the checks: %s", h.For, strings.Join(h.WouldBlock, ", ")))
		}
	}
	switch p.Inhibitor {
	case "":
	case "held":
		lines = append(lines, "power: logind holds off sleep, shutdown, idle and the lid and power keys until the run ends")
	default:
		lines = append(lines, "power: nothing holds off sleep or shutdown ("+p.Inhibitor+"): do not suspend, close the lid or power off until the run ends")
	}
	if p.Previous != nil && p.Previous.Backup != nil {
		lines = append(lines, fmt.Sprintf("way back: the verified backup of the unfinished run of %s, %s",
			p.Previous.Started.Format(time.DateTime), p.Previous.Backup.Path))
	}
	for i, st := range p.Steps {
		t := stepText[st]
		if st == pipeline.StepWrite {
			t = "write: the whole chip"
			if p.Region == pipeline.RegionBIOS {
				t = "write: the BIOS region only (--ifd -i bios)"
			}
			if why := regionReasons[p.RegionReason]; why != "" {
				t += ", " + why
			}
			if len(p.Locked) > 0 {
				t += " (locked: " + strings.Join(p.Locked, ", ") + ")"
			}
			if p.FlashContents {
				t += "; the backup tells the flasher what the chip holds"
			}
		}
		if t == "" {
			t = st
		}
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, t))
	}
	how := "percentages from the flasher"
	if !p.Percentages {
		how = "timers (this flasher prints no percentages)"
	}
	lines = append(lines, fmt.Sprintf("expected: %d chip reads, %d write, %d flasher runs; progress as %s",
		p.ChipReads, p.ChipWrites, p.FlasherRuns, how))
	r.line("plan:\n  %s", strings.Join(lines, "\n  "))
}

var macPlanText = map[string]string{
	"auto":   "this machine's own, read from the backup, goes into the written copy",
	"keep":   "kept as in the image (--mac keep)",
	"random": "a random, locally administered one (--mac random)",
}

var macSource = map[string]string{"backup": "this machine's own, from the backup", "user": "--mac", "random": "random"}

// macChange says what the written copy's MAC address is, once the backup
// showed this machine's own.
func (r *renderer) macChange(d *pipeline.MACEvent) {
	if d.Changed {
		r.line("MAC address: %s → %s (%s); the image written has sha256 %s", d.From, d.To, macSource[d.Source], d.SHA256)
	} else {
		r.line("MAC address: %s, unchanged: %s", d.From, d.Why)
	}
}

// archiveLine says which image came from which release, and what was
// checked of it.
func archiveLine(ar *pipeline.ArchiveRef) string {
	v := ar.Verified
	var checked []string
	if len(v.Checksums) > 0 {
		checked = append(checked, strings.Join(v.Checksums, ", ")+" match")
	}
	switch {
	case v.Signature == "skipped":
		checked = append(checked, "signature NOT checked (--no-verify-signature)")
	case v.ReleaseKey:
		checked = append(checked, "good signature by Libreboot's release key "+v.Signer+" (since "+v.SignerSince+")")
	default:
		checked = append(checked, "good signature by "+v.Signer+", NOT one of Libreboot's published release keys")
	}
	s := fmt.Sprintf("%s; image %s (%s)", filepath.Base(ar.Path), ar.ROM, ar.Label)
	if ar.Choices > 1 {
		s += fmt.Sprintf(", chosen of %d that fit", ar.Choices)
	}
	return s + "; " + strings.Join(checked, "; ")
}

func chipText(c pipeline.ChipRef) string {
	return strings.TrimSpace(c.Vendor+" "+c.Name) + ", " + pipeline.HumanSize(c.Size)
}

func (r *renderer) flasher(f *pipeline.FlasherInfo) {
	r.using = f
	r.line("using %s %s (%s)", f.Kind, f.Version, f.Path)
}

// strays is a flasher run that left processes behind, in one line: what
// happened, what libreflash did about it, and what to check.
func (r *renderer) strays(s *pipeline.Strays) {
	name, path := "the flasher", "the flasher"
	if f := r.using; f != nil {
		name, path = f.Kind, f.Path
	}
	run := opLabel(&pipeline.Progress{Stage: s.Stage, Op: s.Op, Pass: s.Pass, Passes: s.Passes})
	what := fmt.Sprintf("%s, pid %d, %s,", name, s.PID, run)
	var did, check []string
	if n := len(s.Killed); n > 0 {
		what += fmt.Sprintf(" left %s running after it exited", processes(s.Killed))
		did = append(did, "libreflash killed "+them(n)+", as it kills whatever a flasher leaves in its process group")
		check = append(check, "whether "+path+" is a wrapper script that starts programs in the background")
	}
	if s.Waited > 0 {
		held := "a process it started outside its process group"
		if len(s.Held) > 0 {
			held = processes(s.Held) + ", which it started outside its process group,"
		}
		if len(s.Killed) > 0 {
			what += ", and " + held + " kept its output open"
		} else {
			what += " exited, but " + held + " kept its output open"
		}
		did = append(did, fmt.Sprintf("libreflash stopped waiting for that output after %s and did not kill %s",
			seconds(s.Waited), them(max(len(s.Held), 1))))
		ps := "'ps -eo pid,pgid,args'"
		if len(s.Held) > 0 {
			var pids []string
			for _, p := range s.Held {
				pids = append(pids, strconv.Itoa(p.PID))
			}
			ps = "'ps -o pid,args -p " + strings.Join(pids, ",") + "'"
		}
		check = append(check, "with "+ps+" that nothing it left still runs (it could use the chip) before you run libreflash again")
	}
	r.line("warning: %s; %s; %s's own exit status and output still decide the result; check %s",
		what, strings.Join(did, "; "), name, strings.Join(check, ", and "))
}

// processes names processes: "sleep (pid 42)", "sleep (pid 42), sh (pid 43)".
func processes(ps []runner.Process) string {
	var out []string
	for _, p := range ps {
		name := p.Name
		if name == "" {
			name = "a process"
		}
		out = append(out, fmt.Sprintf("%s (pid %d)", name, p.PID))
	}
	return strings.Join(out, ", ")
}

// them is "it" or "them", for n processes.
func them(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func (r *renderer) flasherMessage(m *pipeline.FlasherMessage) {
	level := "warning"
	if m.Level == "error" {
		level = "error"
	}
	r.line("%s: %s", level, m.Text)
}

func (r *renderer) signal(s *pipeline.Signal) {
	r.line("warning: received %s: the flasher goes on, because stopping it now would leave the chip unusable; "+
		"libreflash stops as soon as the chip is in a known state", s.Signal)
}

func (r *renderer) previousRun(p *pipeline.PreviousRun) {
	stage := p.Stage
	if stage == "" {
		stage = "its start"
	}
	msg := fmt.Sprintf("warning: the previous run (%s, pid %d) did not finish: it stopped during %s; its record is in %s",
		p.Started.Format(time.DateTime), p.PID, stage, p.Dir)
	if p.Writing {
		msg += "\n  it was writing the chip, which may hold neither the old firmware nor the new: " +
			"do not reboot or power off until this run has written and verified it"
	}
	if p.Backup != nil {
		msg += fmt.Sprintf("\n  its verified backup, the chip as it was before: %s (sha256 %s)", p.Backup.Path, p.Backup.SHA256)
	}
	r.line("%s", msg)
}

func (r *renderer) verifiedBackup(b *pipeline.VerifiedBackup) {
	r.backup = b
	if b.Role == pipeline.RoleSnapshot {
		r.line("warning: kept as a snapshot, not as the way back (an earlier run left the chip in an unknown state): %s", b.Path)
	}
}

// backupCheck is the way back checked against the sha256 recorded when it
// was read, before it is written back.
func (r *renderer) backupCheck(b *pipeline.BackupCheck) {
	if !b.OK {
		r.line("error: the backup %s no longer matches the sha256 recorded when it was read (%s)", b.Path, b.Expected)
	}
}

func (r *renderer) verify(v *pipeline.Verify) {
	if v.OK {
		return // the verify (or rollback) stage says ok
	}
	where := ""
	if v.Mismatch != nil {
		where = fmt.Sprintf(" (first difference at %#x)", *v.Mismatch)
	}
	r.line("error: the chip differs from the %s%s", v.Against, where)
}

var basisText = map[string]string{
	pipeline.BasisFlasherSaid:   "the flasher says so",
	pipeline.BasisBeforeChip:    "the flasher stopped before it touched the chip",
	pipeline.BasisReadBack:      "read back and compared with the backup",
	pipeline.BasisFlasherUnsure: "the flasher says the chip is in an unknown state",
	pipeline.BasisNoEvidence:    "nothing shows it unchanged",
}

// chipOutcome is the diagnose outcome a chip state stands for.
var chipOutcome = map[string]string{
	pipeline.ChipUnchanged:  diagnose.Unchanged,
	pipeline.ChipRolledBack: diagnose.RolledBack,
	pipeline.ChipUnknown:    diagnose.UnknownState,
}

func (r *renderer) chipState(c *pipeline.ChipState) {
	r.flushFindings(chipOutcome[c.State])
	switch c.State {
	case pipeline.ChipUnchanged:
		r.line("the chip is unchanged (%s): it still holds its old firmware", basisText[c.Basis])
	case pipeline.ChipUnknown:
		if !r.unknown {
			r.unknown = true
			r.line("DO NOT REBOOT OR POWER OFF: the write failed and the chip's contents are unknown (%s); "+
				"writing the verified backup back now", basisText[c.Basis])
		}
		// Once the rollback failed too, the summary says what to do.
	}
}

var prepareWords = map[string]string{
	pipeline.PrepareProposed: "reversible changes that lift the blocking checks",
	pipeline.PrepareManual:   "changes only you can make",
	pipeline.PrepareApplied:  "applied",
	pipeline.PrepareDeclined: "declined: nothing was changed",
}

// prepare shows what 'prepare' would change, or did; the same for the
// prepare command and install (prepareStepsText).
func (r *renderer) prepare(p *pipeline.Prepare) {
	switch p.Status {
	case pipeline.PrepareProposed, pipeline.PrepareManual:
		r.line("prepare: %s:\n%s", prepareWords[p.Status], prepareStepsText(p.Steps))
	case pipeline.PrepareApplied:
		when := "now"
		if p.Reboot {
			when = "on the next boot"
		}
		r.line("prepare: applied %s; takes effect %s", strings.Join(p.Actions, ", "), when)
	case pipeline.PrepareDeclined:
		r.line("prepare: %s", prepareWords[p.Status])
	case pipeline.PrepareLater:
		if len(p.Actions) > 0 {
			r.line("once that is fixed, 'sudo libreflash prepare' can make the reversible changes (%s)", strings.Join(p.Actions, ", "))
		}
	}
	for _, n := range p.Notes {
		if r.once(n) {
			r.line("firmware: %s", n)
		}
	}
}

var unlockTexts = map[string]string{
	string(unlock.OverrideArmed): "armed the descriptor override for the next boot",
	string(unlock.SMIsDisabled):  "disabled SMIs: the BIOS lock no longer undoes the write enable",
	string(unlock.Unlocked):      "found the flash unlocked",
	string(unlock.SMIsEnabled):   "enabled SMIs (they were disabled before this run)",
}

// unlockRan is what a run of the unlock tool did; a failed run is the
// summary's error.
func (r *renderer) unlockRan(u *pipeline.Unlock) {
	if t := unlockTexts[u.Outcome]; t != "" {
		r.line("unlock: %s %s", filepath.Base(u.Tool), t)
	}
}

func (r *renderer) restored(res *pipeline.Restore) {
	for _, u := range res.Undone {
		if u.Error != "" {
			r.line("error: could not undo %s: %s", u.Action, u.Error)
		} else {
			r.line("undone: %s", u.Summary)
		}
	}
	if res.Error != "" {
		r.line("error: some protections were not restored (%s); run 'sudo libreflash restore' to retry", res.Error)
	}
}

// finding is a diagnosed cause. It waits for what the run learns next (the
// chip's state after a failed write, or the end of the stage), so that its
// fix fits the outcome.
func (r *renderer) finding(f *pipeline.Finding) {
	r.findings = append(r.findings, f)
}

// flushFindings prints the causes found, a candidate said to be one, each
// with its fix for outcome (a diagnose outcome; "" when no write failed),
// a fix only once however many causes or checks share it.
func (r *renderer) flushFindings(outcome string) {
	for _, f := range r.findings {
		what := "cause"
		if f.Candidate {
			what = "possible cause"
		}
		r.line("%s (%s): %s", what, f.ID, f.Summary)
		if fix := findingFix(f, outcome); fix != "" && r.once(fix) {
			r.line("fix:\n%s", indent(fix, "  "))
		}
	}
	r.findings = nil
}

// findingFix is the fix to print for f: the catalog's advice for the
// outcome when the cause has one (diagnose.Fix), else the fix the diagnosis
// chose with the machine's facts. Advice about the chip's state alone (a
// failed write) is left to the summary, which says it for this run.
func findingFix(f *pipeline.Finding, outcome string) string {
	if outcome != "" && diagnose.Fix(f.ID, outcome, diagnose.Facts{}) != diagnose.Fix(f.ID, "", diagnose.Facts{}) {
		return "" // chip-state advice: the summary's next steps
	}
	return f.Fix
}
