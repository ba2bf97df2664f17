package main

// This file and its render_*.go siblings turn the events of a run (backup,
// install) into what the user sees. The rules:
//
//   - stdout carries the result: the summary at the end of install and
//     backup, or, with --json, every event as one JSON line and nothing
//     else. It is what a script or a person copies.
//   - stderr carries the way there: stage lines, checks, the plan, progress,
//     warnings, questions, and errors as "libreflash: error: …" followed by
//     "libreflash: hint: …".
//   - Lines start lower-case and have no final period; status marks are
//     words ([FAIL], [warn]), so that a log, a screen reader and a terminal
//     say the same thing.
//   - Everything is said once: a fix shown with a check is not repeated by
//     a finding, by the error's hint or by the summary; the next steps
//     (and after an unknown state, the recovery steps) once, in the summary.
//   - Progress: a percentage only when the flasher printed one, never made
//     up. On a terminal a bar per phase (read, erase, write, verify) with
//     the elapsed time and the time left; a flasher without percentages
//     (flashrom 1.3) gets a timer with the phase's name. Elsewhere one line
//     when a phase starts and one when it ends.
//   - After an unknown state the summary is the last thing printed: it
//     starts and ends with DO NOT REBOOT, says each recovery step once with
//     its exact command, and fits in 25 lines.
//   - Every event type has one rendering function per mode: jsonEvent for
//     --json, and one text function shared by the terminal and plain modes
//     (progress alone has one of each).

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"libreflash/internal/pipeline"
	"libreflash/internal/runner"
)

// renderer shows a pipeline's event stream. It knows nothing of which
// pipeline runs, so backup and install share it, summary included.
type renderer struct {
	command string // install or backup, for the words of the result
	mode    renderMode
	out     io.Writer // the summary, or the JSON lines
	status  io.Writer // everything else
	json    pipeline.Sink
	width   int // bar width; 0 takes the terminal's

	mu         sync.Mutex
	bar        *bar                // the running progress bar (terminal)
	shown      map[string]bool     // fixes and hints already printed
	fixes      []pendingFix        // the failing checks' fixes, printed at the stage's end
	findings   []*pipeline.Finding // causes, printed once the outcome is known
	plan       *pipeline.Plan      // the run's plan
	backup     *pipeline.VerifiedBackup
	using      *pipeline.FlasherInfo // the flasher the run uses
	begun      map[string]bool       // plain: phases whose start line was printed, not yet their end
	wouldBlock []string              // a rehearsal: the checks that stop the real run
	failed     map[string]bool       // checks shown failing: a later pass of one is shown too
	summarized bool                  // the summary was printed
	unknown    bool                  // the chip's state was found unknown
}

type renderMode int

const (
	renderPlain renderMode = iota
	renderTTY
	renderJSON
)

// newRenderer picks the mode: --json wins, then a terminal on stderr
// (unless --log-level debug traces the flasher there), else plain lines.
func (a *app) newRenderer(command string, jsonOut bool) *renderer {
	r := &renderer{command: command, out: a.stdout, status: a.stderr}
	switch {
	case jsonOut:
		r.mode = renderJSON
		r.json = pipeline.JSONLines(a.stdout)
	case isTerminal(a.stderr) && runner.Trace == nil:
		r.mode = renderTTY
	}
	return r
}

// Event is a pipeline.Sink.
func (r *renderer) Event(e pipeline.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == renderJSON {
		r.jsonEvent(e)
		return
	}
	r.text(e.Data)
}

// text renders one event for the terminal or plain lines; it reports
// whether it knows the payload's type (a test holds it to every type in
// pipeline.EventTypes).
func (r *renderer) text(p pipeline.Payload) bool {
	switch d := p.(type) {
	case *pipeline.Stage:
		r.stage(d)
	case *pipeline.Progress:
		if r.mode == renderTTY {
			r.progressTTY(d)
		} else {
			r.progressPlain(d)
		}
	case *pipeline.Check:
		r.check(d)
	case *pipeline.Plan:
		r.planned(d)
	case *pipeline.FlasherInfo:
		r.flasher(d)
	case *pipeline.FlasherMessage:
		r.flasherMessage(d)
	case *pipeline.Strays:
		r.strays(d)
	case *pipeline.Signal:
		r.signal(d)
	case *pipeline.PreviousRun:
		r.previousRun(d)
	case *pipeline.VerifiedBackup:
		r.verifiedBackup(d)
	case *pipeline.BackupCheck:
		r.backupCheck(d)
	case *pipeline.Verify:
		r.verify(d)
	case *pipeline.ChipState:
		r.chipState(d)
	case *pipeline.MACEvent:
		r.macChange(d)
	case *pipeline.Prepare:
		r.prepare(d)
	case *pipeline.Restore:
		r.restored(d)
	case *pipeline.Unlock:
		r.unlockRan(d)
	case *pipeline.Finding:
		r.finding(d)
	case *pipeline.Summary:
		r.summary(d)
	default:
		return false
	}
	return true
}

// jsonEvent is --json: every event, whatever its type, as one line.
func (r *renderer) jsonEvent(e pipeline.Event) {
	r.json(e)
	if _, ok := e.Data.(*pipeline.Summary); ok {
		r.summarized = true
	}
}

// Close stops a bar left running.
func (r *renderer) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endBar()
}

// result is what the command returns after the pipeline: the summary
// already showed err, with its hint and the next steps, so only the exit
// code is left to give. With --json the error goes to stderr as usual.
func (r *renderer) result(err error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.summarized && r.mode != renderJSON {
		return reported(err)
	}
	return err
}

// line prints a status line (above the bar when one is running).
func (r *renderer) line(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if r.bar != nil {
		r.bar.clear()
		fmt.Fprintln(r.status, msg)
		r.bar.draw()
		return
	}
	fmt.Fprintln(r.status, msg)
}

// once reports whether text (a fix, a hint) is new in this run, and
// remembers it.
func (r *renderer) once(text string) bool {
	k := strings.Join(strings.Fields(text), " ")
	if k == "" {
		return false
	}
	if r.shown == nil {
		r.shown = map[string]bool{}
	}
	if r.shown[k] {
		return false
	}
	r.shown[k] = true
	return true
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}
