package main

import (
	"fmt"
	"io"
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

	mu      sync.Mutex
	bar     *pb.ProgressBar
	percent bool // the bar shows the flasher's percentage
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
	switch e.Type {
	case pipeline.TypeStage:
		r.stage(e)
	case pipeline.TypeProgress:
		r.progress(e)
	case pipeline.TypeLog:
		switch e.Level {
		case "warn":
			r.line("warning: %s", e.Message)
		case "error":
			r.line("error: %s", e.Message)
		default:
			r.line("%s", e.Message)
		}
	case pipeline.TypeFinding:
		if e.Finding != nil {
			r.line("cause (%s): %s", e.Finding.ID, e.Finding.Summary)
			if e.Finding.Fix != "" {
				r.line("fix: %s", strings.ReplaceAll(strings.TrimRight(e.Finding.Fix, "\n"), "\n", "\n     "))
			}
		}
	case pipeline.TypeSummary:
		r.endBar()
		if e.Summary != nil {
			r.summary(e.Summary)
		}
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
	"write": "write", "verify": "verify", "restore": "restore",
}

func (r *renderer) stage(e pipeline.Event) {
	name := stageNames[e.Stage]
	if name == "" {
		name = e.Stage
	}
	switch e.Status {
	case pipeline.StatusOK:
		if e.Message != "" {
			r.line("%s: %s", name, e.Message)
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
func opLabel(e pipeline.Event) string {
	verb := map[string]string{"read": "reading chip", "erase": "erasing chip", "write": "writing chip",
		"verify": "verifying chip"}[e.Op]
	if verb == "" {
		verb = e.Op
	}
	if e.Passes > 1 {
		verb += fmt.Sprintf(" (%d of %d)", e.Pass, e.Passes)
	}
	return verb
}

func (r *renderer) progress(e pipeline.Event) {
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
