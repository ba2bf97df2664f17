package pipeline

import (
	"context"
	"testing"

	"libreflash/internal/exitcode"
)

// Issue 13: a signal while the checks run (here: while the iopl check
// probes, which the signal cuts short, so the check fails) cancels the
// install, exit 130, instead of blocking it on that check (exit 3).
func TestInstallCancelledDuringChecks(t *testing.T) {
	r := newRun(t, "SST25VF032B", x200ROM(t, size4M), mkrom(t, "factory", size4M))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := *r.opts.Env
	env.Iopl = func(level int) error {
		cancel() // the user's ^C arrives now, and cuts the probe short
		return ctx.Err()
	}
	r.opts.Env = &env
	// The internal programmer, for which a failing iopl check blocks; the
	// run never gets as far as a flasher run with it.
	r.opts.Programmer = "internal"
	s, err := Install(ctx, r.opts)
	if code := exitcode.Of(err); code != exitcode.Cancelled || s.Result != ResultCancelled {
		t.Fatalf("exit %d, result %s (%v); want %d, %s", code, s.Result, err, exitcode.Cancelled, ResultCancelled)
	}
	if r.ev.first(TypeBackup) != nil {
		t.Error("a backup was made after the cancellation")
	}
}
