package main

import (
	"fmt"
	"io"
	"time"

	"github.com/cheggaaa/pb/v3"

	"libreflash/internal/pipeline"
)

// Progress of a flasher operation (rules in render.go): on a terminal a
// bar per phase, drawn on each progress event (the pipeline sends one per
// percentage and one every second), with the time from the events
// themselves; elsewhere a line per phase start and end.

// phaseNames are the phases as the user reads them.
var phaseNames = map[pipeline.Phase]string{
	pipeline.PhaseProbe: "probing the chip", pipeline.PhaseRead: "reading the chip",
	pipeline.PhaseErase: "erasing the chip", pipeline.PhaseEraseCheck: "checking the erase",
	pipeline.PhaseWrite:  "writing the chip",
	pipeline.PhaseVerify: "verifying the chip",
}

// opLabel is "reading the chip (1 of 2)", "writing the chip (attempt 2)"
// when the flasher tries again, or in a rollback "rollback: writing the
// chip".
func opLabel(p *pipeline.Progress) string {
	label := phaseNames[p.Op]
	if p.Op == pipeline.PhaseRead && (p.Stage == pipeline.StageWrite || p.Stage == pipeline.StageRollback) {
		// A write starts by reading what it will change.
		label = "reading what the chip holds"
	}
	if p.Op == pipeline.PhaseRead && p.Stage == pipeline.StageVerify {
		// libreflash's own verify: one read, compared with the image.
		label = "reading the chip back to verify it"
	}
	if label == "" {
		label = string(p.Op)
	}
	switch {
	case p.Passes > 1:
		label += fmt.Sprintf(" (%d of %d)", p.Pass, p.Passes)
	case p.Pass > 0 && (p.Op == pipeline.PhaseErase || p.Op == pipeline.PhaseWrite):
		// the flasher tries again (another erase function)
		label += fmt.Sprintf(" (attempt %d)", p.Pass)
	case p.Pass > 1:
		label += fmt.Sprintf(" (pass %d)", p.Pass)
	}
	if p.Stage == pipeline.StageRollback {
		label = "rollback: " + label
	}
	return label
}

// endText is the line that closes a phase: "reading the chip (1 of 2):
// done in 2.3s".
func endText(p *pipeline.Progress) string {
	word := "done"
	if p.Status == pipeline.StatusFail {
		word = "failed"
	}
	return fmt.Sprintf("%s: %s in %s", opLabel(p), word, seconds(p.Elapsed))
}

func (r *renderer) progressPlain(p *pipeline.Progress) {
	key := p.Stage + "/" + string(p.Op)
	switch p.Status {
	case pipeline.StatusStart:
		if r.begun[key] && p.Pass == 0 {
			// It began before and never ended: the flasher's first bar
			// named the work of a write stage (erase, erase check),
			// and now the write itself is measured. Said once.
			return
		}
		if r.begun == nil {
			r.begun = map[string]bool{}
		}
		r.begun[key] = true
		r.line("%s…", opLabel(p))
	case pipeline.StatusOK, pipeline.StatusFail:
		delete(r.begun, key)
		r.line("%s", endText(p))
	}
}

func (r *renderer) progressTTY(p *pipeline.Progress) {
	switch p.Status {
	case pipeline.StatusStart:
		r.endBar()
		r.bar = newBar(r, opLabel(p))
		r.bar.update(p)
	case pipeline.StatusOK, pipeline.StatusFail:
		r.endBar()
		r.line("%s", endText(p))
	default:
		if r.bar != nil {
			r.bar.update(p)
		}
	}
}

func (r *renderer) endBar() {
	if r.bar != nil {
		r.bar.finish()
		r.bar = nil
	}
}

// bar is one phase's line on the terminal: a pb bar redrawn in place, only
// when an event arrives (pb's static mode), so what it shows comes from the
// events alone.
type bar struct {
	pb      *pb.ProgressBar
	w       io.Writer
	percent bool
}

// Templates: with a percentage, a bar, the percentage, the time taken and
// the time left; without, the phase's name and a timer.
const (
	tmplTimer   = `{{string . "label"}}  {{string . "time"}}`
	tmplPercent = `{{string . "label"}} {{bar . "[" "=" ">" " " "]"}} {{percent . "%3.0f%%"}}  {{string . "time"}}`
)

func newBar(r *renderer, label string) *bar {
	b := pb.New(100)
	b.SetWriter(r.status)
	b.Set(pb.Static, true)
	b.Set(pb.Terminal, true)
	b.Set(pb.ReturnSymbol, "\r")
	b.Set(pb.CleanOnFinish, true)
	b.Set("label", label)
	b.Set("time", "")
	if r.width > 0 {
		b.SetWidth(r.width)
	}
	b.SetMaxWidth(100)
	b.SetTemplateString(tmplTimer)
	b.Start()
	return &bar{pb: b, w: r.status}
}

// update draws the bar for p: its percentage when the flasher gave one,
// the elapsed time, and when the percentage allows, the time left.
func (b *bar) update(p *pipeline.Progress) {
	t := clock(p.Elapsed)
	if p.Percent != nil {
		if !b.percent {
			b.pb.SetTemplateString(tmplPercent)
			b.percent = true
		}
		b.pb.SetCurrent(int64(*p.Percent))
		if pc := *p.Percent; pc > 0 && pc < 100 && p.Elapsed >= 1 {
			t += ", about " + clock(p.Elapsed*float64(100-pc)/float64(pc)) + " left"
		}
	}
	b.pb.Set("time", t)
	b.draw()
}

func (b *bar) draw() { b.pb.Write() }

// clear wipes the bar's line, so a status line can take its place; the
// next draw puts the bar back under it.
func (b *bar) clear() { fmt.Fprint(b.w, "\r\x1b[K") }

// finish stops the bar and wipes its line for good.
func (b *bar) finish() {
	b.pb.Finish()
	b.clear()
}

// clock is a timer's text: 7s, 1m05s.
func clock(s float64) string {
	d := time.Duration(s) * time.Second
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(s))
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(s)%60)
}

// seconds is a phase's or a run's duration: 393ms, 2.3s, 1m40.2s.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
