package pipeline

import (
	"context"
	"os"
	"path/filepath"

	"libreflash/internal/host"
	"libreflash/internal/inhibit"
	"libreflash/internal/preflight"
	"libreflash/internal/statedir"
)

// What a run holds while it may touch the flash chip, beside the state
// directory's lock: the chip's own lock (statedir.ChipLock, so that runs
// with different state directories never drive one chip at once) and, for
// install, the systemd-logind inhibitor (internal/inhibit) from the first
// chip access to the end of verify. Both live behind the machine's root:
// /run/libreflash and the system bus socket, so tests on a fixture root
// never touch the host's.

// systemBusSocket is the system bus's socket, below the host root.
const systemBusSocket = "/run/dbus/system_bus_socket"

// lockChip takes the lock of the chip prog reaches. A rehearsal's emulated
// chip is a file of its own state directory, which that directory's lock
// already covers.
//
// A user other than root (a backup through an external programmer the user
// may open) cannot write /run/libreflash: the lock is then the user's own,
// under $XDG_RUNTIME_DIR, or none without one.
//
// runDir is where the chip locks live: "" means statedir.RunDir below root.
func lockChip(root, runDir, prog string, rehearse bool) (*statedir.Held, error) {
	if rehearse {
		return nil, nil
	}
	dir := runDir
	if dir == "" {
		dir = host.Root(root).Path(statedir.RunDir)
	}
	if os.Geteuid() != 0 {
		xdg := os.Getenv("XDG_RUNTIME_DIR")
		if xdg == "" {
			return nil, nil
		}
		dir = filepath.Join(xdg, "libreflash")
	}
	return statedir.ChipLock(dir, prog)
}

// inhibitWhy is what logind shows as the reason.
const inhibitWhy = "libreflash is writing the boot flash chip: a suspend or power-off now can leave a machine that does not start"

// takeInhibitor asks logind to hold off sleep, shutdown and idle; the lock
// says why not where it cannot.
func takeInhibitor(ctx context.Context, env *preflight.Env) *inhibit.Lock {
	return inhibit.Take(ctx, inhibit.Options{Address: "unix:path=" + env.Path(systemBusSocket)}, inhibitWhy)
}

// inhibitorState is the plan's word on it: "held", or why not.
func inhibitorState(l *inhibit.Lock) string {
	if l.Held() {
		return "held"
	}
	return l.Note()
}
