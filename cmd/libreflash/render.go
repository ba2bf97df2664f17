package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cheggaaa/pb/v3"

	"libreflash/internal/pipeline"
	"libreflash/internal/runner"
)

// renderer shows a pipeline's event stream: JSON lines with --json, a live
// bar per flasher operation on a terminal, plain stage lines otherwise.
// Progress goes to stderr, the summary to stdout. It knows nothing about
// which pipeline runs, so backup and install share it.
type renderer struct {
	mode   renderMode
	out    io.Writer // summary (and JSON lines)
	status io.Writer // stage and progress lines
	json   pipeline.Sink

	mu       sync.Mutex
	bar      *pb.ProgressBar
	percent  bool           // the bar shows the flasher's percentage
	lastPlan *pipeline.Plan // the run's plan, once shown
}

type renderMode int

const (
	renderPlain renderMode = iota
	renderTTY
	renderJSON
)

// newRenderer picks the mode: --json wins, then a terminal on stderr.
func (a *app) newRenderer(jsonOut bool) *renderer {
	r := &renderer{out: a.stdout, status: a.stderr}
	switch {
	case jsonOut:
		r.mode = renderJSON
		r.json = pipeline.JSONLines(a.stdout)
	case isTerminal(a.stderr) && runner.Trace == nil:
		// Bars only when nothing else writes to the terminal meanwhile
		// (--log-level debug traces every flasher line).
		r.mode = renderTTY
	}
	return r
}

// Event is a pipeline.Sink.
func (r *renderer) Event(e pipeline.Event) {
	if r.mode == renderJSON {
		r.json(e)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch d := e.Data.(type) {
	case *pipeline.Stage:
		r.stage(d)
	case *pipeline.Progress:
		r.progress(d)
	case *pipeline.Check:
		r.check(d)
	case *pipeline.Plan:
		r.plan(d)
	case *pipeline.FlasherInfo:
		r.line("using %s %s (%s)", d.Kind, d.Version, d.Path)
	case *pipeline.FlasherMessage:
		if d.Level == "error" {
			r.line("error: %s", d.Text)
		} else {
			r.line("warning: %s", d.Text)
		}
	case *pipeline.Signal:
		r.line("warning: received %s: the flasher goes on, because stopping it now would leave the chip unusable; "+
			"libreflash stops as soon as the chip is in a known state", d.Signal)
	case *pipeline.PreviousRun:
		r.previousRun(d)
	case *pipeline.VerifiedBackup:
		what := "backup"
		if d.Role == pipeline.RoleSnapshot {
			what = "snapshot (not the way back)"
		}
		r.line("%s: %s (sha256 %s), %d equal reads", what, d.Path, d.SHA256, d.Reads)
	case *pipeline.BackupCheck:
		if d.OK {
			r.line("backup %s matches its recorded sha256", d.Path)
		} else {
			r.line("error: the backup %s no longer matches the sha256 recorded when it was read (%s)", d.Path, d.Expected)
		}
	case *pipeline.Verify:
		if d.OK {
			r.line("verified: the chip matches the %s", d.Against)
		} else if d.Mismatch != nil {
			r.line("error: the chip differs from the %s at offset %#x", d.Against, *d.Mismatch)
		} else {
			r.line("error: the chip differs from the %s", d.Against)
		}
	case *pipeline.ChipState:
		r.chipState(d)
	case *pipeline.MACEvent:
		if d.Changed {
			r.line("MAC address: %s → %s (%s); the image written has sha256 %s", d.From, d.To, macSource[d.Source], d.SHA256)
		} else {
			r.line("MAC address: %s, unchanged: %s", d.From, d.Why)
		}
	case *pipeline.Prepare:
		r.prepare(d)
	case *pipeline.Restore:
		for _, u := range d.Undone {
			if u.Error != "" {
				r.line("error: could not undo %s: %s", u.Action, u.Error)
			} else {
				r.line("undone: %s", u.Summary)
			}
		}
		if d.Error != "" {
			r.line("error: some protections were not restored (%s); run 'sudo libreflash restore' to retry", d.Error)
		}
	case *pipeline.Finding:
		r.line("cause (%s): %s", d.ID, d.Summary)
		if d.Fix != "" {
			r.line("fix: %s", strings.ReplaceAll(strings.TrimRight(d.Fix, "\n"), "\n", "\n     "))
		}
	case *pipeline.Summary:
		r.endBar()
		r.summary(d)
	}
}

func (r *renderer) check(c *pipeline.Check) {
	what := c.ID
	if c.Source == pipeline.SourceImage {
		what = "image " + c.ID
	}
	switch {
	case c.Status == "fail" && c.Blocks:
		r.line("error: [fail] %s: %s", what, c.Summary)
		if c.Fix != "" {
			r.line("  fix: %s", strings.ReplaceAll(c.Fix, "\n", "\n  "))
		}
	case c.Status == "fail", c.Status == "warn":
		r.line("warning: [%s] %s: %s", c.Status, what, c.Summary)
	default:
		r.line("[%s] %s: %s", c.Status, what, c.Summary)
	}
}

var stepText = map[string]string{
	pipeline.StepBackup:   "back up: read the chip twice; the two reads must match (sha256)",
	pipeline.StepWrite:    "write",
	pipeline.StepVerify:   "verify: read the chip back and compare it with the image",
	pipeline.StepRollback: "on failure: roll back to the verified backup, the same way",
	pipeline.StepRestore:  "protections: whatever 'libreflash prepare' lowered is restored after a verified write",
}

func (r *renderer) plan(p *pipeline.Plan) {
	if r.lastPlan != nil && len(p.Layout) > 0 {
		r.line("the image's flash descriptor places %s elsewhere than the chip's: writing the whole chip instead of its BIOS region",
			strings.Join(p.Layout, ", "))
		r.lastPlan = p
		return
	}
	r.lastPlan = p
	if p.Image == nil {
		return // a backup: the chip is named when the plan stage ends
	}
	lines := []string{
		fmt.Sprintf("image: %s (%s, sha256 %s)", p.Image.Path, pipeline.HumanSize(p.Image.Size), p.Image.SHA256),
		fmt.Sprintf("chip: %s, %s, via -p %s", strings.TrimSpace(p.Chip.Vendor+" "+p.Chip.Name), pipeline.HumanSize(p.Chip.Size), p.Programmer),
	}
	if ar := p.Archive; ar != nil {
		lines = append(lines, "archive: "+archiveLine(ar))
	}
	switch p.MAC {
	case "":
	case "auto":
		lines = append(lines, "MAC address: this machine's own, read from the backup, goes into the written copy")
	case "keep":
		lines = append(lines, "MAC address: kept as in the image (--mac keep)")
	case "random":
		lines = append(lines, "MAC address: a random, locally administered one (--mac random)")
	default:
		lines = append(lines, "MAC address: "+p.MAC+" (--mac)")
	}
	if h := p.Rehearsal; h != nil {
		from := "a generated factory-like image"
		if h.SeededFrom != "" {
			from = h.SeededFrom
		}
		lines = append(lines, fmt.Sprintf("rehearsal: emulated %s chip (%s), seeded from %s, backed by %s",
			h.Emulate, pipeline.HumanSize(p.Chip.Size), from, h.ChipFile))
		if len(h.WouldBlock) > 0 {
			lines = append(lines, fmt.Sprintf("a real run with -p %s would stop at the checks: %s", h.For, strings.Join(h.WouldBlock, ", ")))
		}
	}
	for i, st := range p.Steps {
		t := stepText[st]
		if st == pipeline.StepWrite {
			t = "write: whole chip"
			if p.Region == pipeline.RegionBIOS {
				t = "write: BIOS region only (--ifd -i bios)"
			}
			if len(p.Locked) > 0 {
				t += "; the chip's descriptor locks " + strings.Join(p.Locked, ", ")
			}
		}
		lines = append(lines, fmt.Sprintf("%d. %s", i+1, t))
	}
	lines = append(lines, fmt.Sprintf("expected chip passes: %d reads, %d write; %d flasher runs", p.ChipReads, p.ChipWrites, p.FlasherRuns))
	r.line("plan:\n  %s", strings.Join(lines, "\n  "))
}

var macSource = map[string]string{"backup": "this machine's own, from the backup", "user": "--mac", "random": "random"}

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

func (r *renderer) previousRun(p *pipeline.PreviousRun) {
	stage := p.Stage
	if stage == "" {
		stage = "its start"
	}
	msg := fmt.Sprintf("the previous run (%s, pid %d) did not finish: it stopped during %s; its record is in %s",
		p.Started.Format(time.RFC3339), p.PID, stage, p.Dir)
	if p.Writing {
		msg += "\nit was writing the chip, so the chip may hold neither the old firmware nor the new: do not reboot or power off until this run has written and verified it"
	}
	if p.Backup != nil {
		msg += fmt.Sprintf("\nits verified backup of the chip as it was then: %s (sha256 %s); keep it", p.Backup.Path, p.Backup.SHA256)
	}
	r.line("warning: %s", msg)
}

func (r *renderer) chipState(c *pipeline.ChipState) {
	switch c.State {
	case pipeline.ChipUnchanged:
		r.line("the chip is unchanged (%s): it still holds the firmware it had, so it is safe to reboot", c.Basis)
	case pipeline.ChipRolledBack:
		r.line("rolled back: the chip holds the verified backup again, so it is safe to reboot")
	case pipeline.ChipUnknown:
		r.line("error: DO NOT REBOOT OR POWER OFF: the chip is in an unknown state")
	}
}

func (r *renderer) prepare(p *pipeline.Prepare) {
	switch p.Status {
	case pipeline.PrepareProposed, pipeline.PrepareManual:
		for _, s := range p.Steps {
			line := fmt.Sprintf("%s: %s", s.Action, s.Summary)
			for _, f := range s.Files {
				line += "\n  changes " + f
			}
			for _, c := range s.Commands {
				line += "\n  runs " + strings.Join(c, " ")
			}
			for _, m := range s.Manual {
				line += "\n  " + m
			}
			r.line("%s", line)
		}
	case pipeline.PrepareLater:
		if len(p.Actions) > 0 {
			r.line("after that, 'sudo libreflash prepare' can make the reversible changes (%s)", strings.Join(p.Actions, ", "))
		}
	}
	for _, n := range p.Notes {
		r.line("note: %s", n)
	}
}

// Close stops a bar left running.
func (r *renderer) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBar()
}

var stageNames = map[string]string{
	"check": "checks", "plan": "plan", "lock": "lock", "backup": "backup",
	"write": "write", "verify": "verify", "restore": "restore", "unlock": "unlock",
}

func (r *renderer) stage(e *pipeline.Stage) {
	name := stageNames[e.Stage]
	if name == "" {
		name = e.Stage
	}
	switch e.Status {
	case pipeline.StatusOK:
		if p := r.lastPlan; e.Stage == pipeline.StagePlan && p != nil && p.Image == nil {
			r.line("%s: %s, %s", name, strings.TrimSpace(p.Chip.Vendor+" "+p.Chip.Name), pipeline.HumanSize(p.Chip.Size))
		} else {
			r.line("%s: ok", name)
		}
	case pipeline.StatusFail:
		r.endBar()
		r.line("%s: failed", name)
	case pipeline.StatusSkip:
		r.line("%s: skipped", name)
	}
}

// opLabel is "reading chip (1 of 2)".
func opLabel(e *pipeline.Progress) string {
	verb := map[string]string{"read": "reading chip", "erase": "erasing chip", "write": "writing chip",
		"verify": "verifying chip", "probe": "probing chip"}[string(e.Op)]
	if verb == "" {
		verb = string(e.Op)
	}
	if e.Passes > 1 {
		verb += fmt.Sprintf(" (%d of %d)", e.Pass, e.Passes)
	}
	return verb
}

func (r *renderer) progress(e *pipeline.Progress) {
	switch e.Status {
	case pipeline.StatusStart:
		r.endBar()
		if r.mode == renderTTY {
			r.startBar(opLabel(e))
		} else {
			r.line("%s…", opLabel(e))
		}
	case pipeline.StatusOK, pipeline.StatusFail:
		word := "done"
		if e.Status == pipeline.StatusFail {
			word = "failed"
		}
		if r.bar != nil {
			if e.Percent != nil {
				r.setPercent(*e.Percent)
			}
			r.endBar()
		}
		r.line("%s: %s in %s", opLabel(e), word, seconds(e.Elapsed))
	default:
		if r.bar != nil && e.Percent != nil {
			r.setPercent(*e.Percent)
		}
	}
}

// Bar templates: without a percentage from the flasher (flashrom 1.3 has
// no --progress) only the elapsed time shows; a percentage is never made up.
const (
	tmplElapsed = `{{string . "label"}}  {{etime . }}`
	tmplPercent = `{{string . "label"}} {{bar . "[" "=" ">" " " "]"}} {{percent . }}  {{etime . }}`
)

func (r *renderer) startBar(label string) {
	b := pb.New(100)
	b.SetWriter(r.status)
	b.Set(pb.Terminal, true)
	b.Set(pb.ReturnSymbol, "\r")
	b.Set(pb.CleanOnFinish, true)
	b.Set("label", label)
	b.SetMaxWidth(100)
	b.SetRefreshRate(200 * time.Millisecond)
	b.SetTemplateString(tmplElapsed)
	b.Start()
	r.bar, r.percent = b, false
}

func (r *renderer) setPercent(p int) {
	if !r.percent {
		r.bar.SetTemplateString(tmplPercent)
		r.percent = true
	}
	r.bar.SetCurrent(int64(p))
}

// endBar stops the bar and wipes its line; the caller prints the outcome.
func (r *renderer) endBar() {
	if r.bar != nil {
		r.bar.Finish()
		r.bar = nil
	}
}

// line prints a status line, above the bar when one is running.
func (r *renderer) line(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.bar != nil {
		// Wipe the bar's line; it redraws itself on its next refresh.
		fmt.Fprintf(r.status, "\r\x1b[K%s\n", msg)
		return
	}
	fmt.Fprintln(r.status, msg)
}

func (r *renderer) summary(s *pipeline.Summary) {
	w := r.out
	if s.Backup != nil {
		fmt.Fprintf(w, "backup:  %s\n", s.Backup.Path)
		fmt.Fprintf(w, "sha256:  %s\n", s.Backup.SHA256)
	}
	if s.Chip != nil && s.Result == pipeline.ResultOK {
		how := ""
		if s.ChipReads > 1 {
			how = fmt.Sprintf(" (read %d times, identical)", s.ChipReads)
		}
		fmt.Fprintf(w, "chip:    %s, %s%s\n", strings.TrimSpace(s.Chip.Vendor+" "+s.Chip.Name), pipeline.HumanSize(s.Chip.Size), how)
	}
	if s.Log != "" {
		fmt.Fprintf(w, "log:     %s\n", s.Log)
	}
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
