// Package statedir owns libreflash's state directory (docs/design.md): where it
// is, and the lock that lets one libreflash run at a time change the system
// or the flash chip. prepare, restore and install all take this lock, so a
// second run cannot interleave its journal writes or flasher runs with ours.
package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
)

// Default is the state directory when neither --state-dir nor the
// environment names one.
const Default = "/var/lib/libreflash"

// EnvVar names the environment variable that overrides Default.
const EnvVar = "LIBREFLASH_STATE_DIR"

// Resolve returns the state directory: flag if set, else $LIBREFLASH_STATE_DIR,
// else Default.
func Resolve(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		if v := getenv(EnvVar); v != "" {
			return v
		}
	}
	return Default
}

// Ensure creates dir (and parents) with mode 0700: backups and the journal
// hold the machine's firmware and its boot configuration.
func Ensure(dir string) error {
	err := os.MkdirAll(dir, 0o700)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(dir); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", dir)
		}
	}
	if err != nil {
		return permHint(fmt.Errorf("create state directory: %w", err))
	}
	return nil
}

// permHint gives a state-directory error the hint most users need.
func permHint(err error) error {
	if errors.Is(err, os.ErrPermission) {
		return exitcode.Wrap(exitcode.Error, "run it as root (sudo), or choose another --state-dir", err)
	}
	return exitcode.Wrap(exitcode.Error, "choose another --state-dir, or make sure its path is a writable directory", err)
}

// BusyError says another libreflash run holds the lock. Nothing was touched,
// so it carries exit code 3 (blocked before any write).
type BusyError struct {
	Path string // the lock file
	PID  int    // the holder's pid as it recorded it; 0 when unknown
}

func (e *BusyError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another libreflash run (pid %d) holds %s", e.PID, e.Path)
	}
	return fmt.Sprintf("another libreflash run holds %s", e.Path)
}

// ExitCode implements exitcode.Coder.
func (e *BusyError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *BusyError) Hint() string {
	return "wait for the other run to finish (never interrupt a flash write), then run this command again"
}

// Lock takes an exclusive, non-blocking flock on stateDir/lock, creating the
// directory if needed. It returns *BusyError when another process holds it.
// The lock is tied to the open file, so it is released when the process
// dies, however it dies: a crash never leaves a stale lock behind.
//
// flock locks belong to an open file description: a second Lock in the same
// process is refused too. Take it once, at the top of a command.
func Lock(stateDir string) (unlock func(), err error) {
	if err := Ensure(stateDir); err != nil {
		return nil, err
	}
	path := filepath.Join(stateDir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, permHint(fmt.Errorf("open lock: %w", err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EAGAIN) {
			return nil, &BusyError{Path: path, PID: readPID(path)}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The pid is only for the message a second run prints; the flock is the
	// lock.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "%d\n", os.Getpid())
	}
	return func() {
		_ = f.Truncate(0)
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// Journal, Runs and Backups name the parts of the state directory.
func Journal(stateDir string) string { return filepath.Join(stateDir, "journal.json") }

// Runs is where each run's event log lives ($STATE/runs/<ts>/events.jsonl).
func Runs(stateDir string) string { return filepath.Join(stateDir, "runs") }

// Backups is where verified chip backups live ($STATE/backups/<ts>-<board>/).
func Backups(stateDir string) string { return filepath.Join(stateDir, "backups") }
