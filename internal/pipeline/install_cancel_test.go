package pipeline

import (
	"context"
	"testing"

	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
)

// Issue 13: a signal while the checks run (here: while the flasher check
// asks the flasher for --help) cancels the install, exit 130, instead of
// blocking it on a flasher check that the signal cut short (exit 3).
func TestInstallCancelledDuringChecks(t *testing.T) {
	r := newRun(t, "SST25VF032B", x200ROM(t, size4M), mkrom(t, "factory", size4M))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := r.opts.Env
	find := env.FindFlasher
	env.FindFlasher = func(c context.Context, o runner.FindOptions) (*runner.Flasher, error) {
		cancel() // the user's ^C arrives now
		f, err := find(c, o)
		if err == nil && c.Err() != nil {
			return nil, c.Err()
		}
		return f, err
	}
	r.opts.Env = env
	s, err := Install(ctx, r.opts)
	if code := exitcode.Of(err); code != exitcode.Cancelled || s.Result != ResultCancelled {
		t.Fatalf("exit %d, result %s (%v); want %d, %s", code, s.Result, err, exitcode.Cancelled, ResultCancelled)
	}
	if r.ev.first(TypeBackup) != nil {
		t.Error("a backup was made after the cancellation")
	}
}
