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
	for _, want := range []string{"external programmer", "palm rest", "Read the chip twice", "--force-route"} {
		if !strings.Contains(ie.Tip, want) {
			t.Errorf("hint lacks %q:\n%s", want, ie.Tip)
		}
	}
	if !strings.Contains(ev.logs(), "route external_required") {
		t.Errorf("the board check was not shown:\n%s", ev.logs())
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
	if !strings.Contains(ev.logs(), "[warn] board") {
		t.Errorf("--force-route did not turn the board check into a warning:\n%s", ev.logs())
	}
	// The run went past the checks to the flasher (which the test guards
	// refuse for -p internal).
	if !strings.Contains(err.Error(), "-p internal") {
		t.Errorf("with --force-route the run did not reach the flasher: %v\n%s", err, ev.logs())
	}
}
