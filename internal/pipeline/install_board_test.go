package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"libreflash/internal/exitcode"
)

// issue 15: a ThinkPad X200 still running Lenovo's BIOS cannot be flashed
// internally. install stops at the board check, before the flasher runs
// and before anything is written, with the docs' external-flashing steps;
// --force-route lets an expert through (the test guards then refuse -p
// internal).
func TestInstallStopsOnExternalRoute(t *testing.T) {
	needFlashrom(t)
	flasher, invocations := guardFlasher(t)
	rom := x200ROM(t, size4M)
	state := filepath.Join(t.TempDir(), "state")
	ev := &events{}
	_, err := Install(context.Background(), InstallOptions{ROM: rom, FlasherPath: flasher, StateDir: state,
		Env: fixture(t, "x200-lenovo-bios"), Emit: ev.sink})
	var ie *InstallError
	if !errors.As(err, &ie) || ie.Code != exitcode.Blocked || ie.Result != ResultBlocked {
		t.Fatalf("got %v, want blocked (exit 3)\n%s", err, ev.logs())
	}
	if !strings.Contains(ie.Err.Error(), "board") {
		t.Errorf("error %q does not name the board check", ie.Err)
	}
	board := ev.check("board")
	if board == nil || board.Status != "fail" || !board.Blocks || !strings.Contains(board.Summary, "route external_required") {
		t.Fatalf("board check %+v", board)
	}
	for _, want := range []string{"external programmer", "palm rest", "Read the chip twice", "--force-route"} {
		if !strings.Contains(board.Fix, want) {
			t.Errorf("the board check's fix lacks %q:\n%s", want, board.Fix)
		}
	}
	if board.Docs != "https://libreboot.org/docs/install/x200.html" {
		t.Errorf("docs %q", board.Docs)
	}
	if b, err := os.ReadFile(invocations); err == nil && strings.Trim(strings.ReplaceAll(string(b), "--help", ""), "\n") != "" {
		t.Errorf("the flasher ran (beyond --help) before the route was settled:\n%s", b)
	}
	if _, err := os.Stat(filepath.Join(state, "backups")); err == nil {
		t.Error("a backup directory was made")
	}

	// --force-route: the board check only warns and the run goes on to
	// the flasher, which the guard stops at -p internal.
	ev = &events{}
	_, err = Install(context.Background(), InstallOptions{ROM: rom, FlasherPath: flasher, StateDir: state,
		ForceRoute: true, Env: fixture(t, "x200-lenovo-bios"), Emit: ev.sink})
	if err == nil {
		t.Fatal("the guard flasher let -p internal through")
	}
	if c := ev.check("board"); c == nil || c.Status != "warn" || c.Blocks || !strings.Contains(c.Detail, "--force-route") {
		t.Errorf("--force-route did not turn the board check into a warning: %+v", c)
	}
	// The run went past the checks to the flasher (which the test guards
	// refuse for -p internal).
	if !strings.Contains(err.Error(), "-p internal") {
		t.Errorf("with --force-route the run did not reach the flasher: %v\n%s", err, ev.logs())
	}
}

// check returns the first check event with the given ID.
func (ev *events) check(id string) *Check {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if c, ok := e.Data.(*Check); ok && c.ID == id {
			return c
		}
	}
	return nil
}
