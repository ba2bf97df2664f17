package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"libreflash/internal/exitcode"
)

// errPromptCancelled ends a command whose question the user answered with
// ^C (or SIGTERM, SIGHUP, or end of input): nothing was changed yet.
var errPromptCancelled = exitcode.New(exitcode.Cancelled, "nothing was changed; run the same command again when you are ready",
	"cancelled at the question")

// prompter asks the user yes/no questions on the terminal. It is the one
// prompt of every command (install's plan and prepare offer, prepare's
// apply), so every question looks and behaves the same: "QUESTION [y/N] ",
// anything but y or yes is no, and ^C answers at once.
type prompter struct {
	in  *bufio.Reader // one reader for the whole run: typed-ahead answers are kept
	out io.Writer
	// before runs before the question is printed (the renderer stops its
	// bar, so the question is not drawn over).
	before func()
}

func (a *app) newPrompter(before func()) *prompter {
	if a.prompt == nil {
		a.prompt = &prompter{in: bufio.NewReader(a.stdin), out: a.stderr}
	}
	a.prompt.before = before
	return a.prompt
}

// Confirm asks q. It returns errPromptCancelled when the user interrupts
// (a signal, or ctx ends) or the input ends, at once: it does not wait for
// a line that will never come.
func (p *prompter) Confirm(ctx context.Context, q string) (bool, error) {
	if p.before != nil {
		p.before()
	}
	// The signals are caught here too, for the commands that do not catch
	// them already, so a ^C at the question is an answer.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	fmt.Fprintf(p.out, "%s [y/N] ", q)
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := p.in.ReadString('\n')
		ch <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		// The reader goroutine stays blocked on the terminal; the command
		// ends now, and the process with it.
		fmt.Fprintln(p.out)
		return false, errPromptCancelled
	case a := <-ch:
		if a.err != nil && a.line == "" {
			fmt.Fprintln(p.out)
			if errors.Is(a.err, io.EOF) {
				return false, errPromptCancelled
			}
			return false, a.err
		}
		switch strings.ToLower(strings.TrimSpace(a.line)) {
		case "y", "yes":
			return true, nil
		}
		return false, nil
	}
}

// Choose asks q with numbered options and returns the index of the one the
// user typed. An empty answer, or anything but one of the numbers, is no
// choice (errPromptCancelled), as is ^C.
func (p *prompter) Choose(ctx context.Context, q string, opts []string) (int, error) {
	if p.before != nil {
		p.before()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	fmt.Fprintln(p.out, q)
	for i, o := range opts {
		fmt.Fprintf(p.out, "  %d) %s\n", i+1, o)
	}
	fmt.Fprintf(p.out, "number [1-%d]: ", len(opts))
	ch := make(chan string, 1)
	go func() {
		line, _ := p.in.ReadString('\n')
		ch <- line
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(p.out)
		return -1, errPromptCancelled
	case line := <-ch:
		var n int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "%d", &n); err != nil || n < 1 || n > len(opts) {
			if line == "" {
				fmt.Fprintln(p.out)
			}
			return -1, errPromptCancelled
		}
		return n - 1, nil
	}
}
