package statedir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
	"libreflash/internal/host"
)

// Lock file names.
const (
	lockName = "lock" // $STATE/lock
	// RunDir is where chip locks live on a real system (a tmpfs, so they
	// do not outlive the boot); behind the host root in tests.
	RunDir = "/run/libreflash"
)

// Held is a lock libreflash holds: an exclusive flock on a file that also
// records who holds it. flock locks belong to the open file, so the lock
// is released when every process holding the file is gone, however it
// died: a crash leaves no stale lock, and a flasher that inherited the file
// (File) keeps it held after libreflash is killed.
type Held struct {
	f    *os.File
	what string // "the state directory", "the flash chip"
	pid  int    // libreflash's pid, as recorded
}

// BusyError says another libreflash run, or a flasher one started, holds a
// lock. Nothing was touched, so it carries exit code 3.
type BusyError struct {
	Path string // the lock file
	What string // "the state directory" or "the flash chip"
	PID  int    // the holder's pid as it recorded it; 0 when unknown
	// FlasherPID is the flasher the holder started, when it is still
	// running (the holder itself may be gone).
	FlasherPID int
}

func (e *BusyError) Error() string {
	what := e.What
	if what == "" {
		what = "the state directory"
	}
	if e.FlasherPID > 0 {
		return fmt.Sprintf("a flasher that libreflash started (pid %d) is still running on %s (lock %s)", e.FlasherPID, what, e.Path)
	}
	if e.PID > 0 {
		return fmt.Sprintf("another libreflash run (pid %d) holds %s (lock %s)", e.PID, what, e.Path)
	}
	return fmt.Sprintf("another libreflash run holds %s (lock %s)", what, e.Path)
}

// ExitCode implements exitcode.Coder.
func (e *BusyError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *BusyError) Hint() string {
	if e.FlasherPID > 0 {
		return "the flasher may be writing the chip: let it finish (do not reboot or power off), then run 'libreflash status' and this command again"
	}
	return "wait for the other run to finish (never interrupt a flash write), then run this command again"
}

// Lock takes the state directory's lock (Acquire) and returns its release.
func Lock(stateDir string) (unlock func(), err error) {
	h, err := Acquire(stateDir)
	if err != nil {
		return nil, err
	}
	return h.Unlock, nil
}

// Acquire checks the state directory (creating it if needed, Ensure) and
// takes an exclusive, non-blocking flock on $STATE/lock. It returns
// *BusyError when another process holds it, or when the flasher recorded in
// it is still running. A second Acquire in the same process is refused
// too: take it once, at the top of a command.
func Acquire(stateDir string) (*Held, error) {
	d, err := Open(stateDir, true)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return acquire(d, lockName, "the state directory")
}

// ChipLock takes the lock of the flash chip that programmer reaches, in
// runDir (RunDir below the host root), so that runs with different state
// directories never drive one chip at once: one per machine for the
// internal programmer, one per emulated image file for the dummy
// programmer, one per programmer kind for the others.
func ChipLock(runDir, programmer string) (*Held, error) {
	d, err := Open(runDir, true)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return acquire(d, "chip-"+ChipKey(programmer)+".lock", "the flash chip")
}

// ChipKey names the chip a programmer string reaches: "internal"; "dummy-"
// and a hash of the emulated image file (its device and inode when it
// exists, else its absolute path); else the programmer's name.
func ChipKey(programmer string) string {
	name, params, _ := strings.Cut(programmer, ":")
	name = strings.TrimSpace(name)
	if name == "dummy" {
		for _, p := range strings.Split(params, ",") {
			img, ok := strings.CutPrefix(strings.TrimSpace(p), "image=")
			if !ok || img == "" {
				continue
			}
			id := img
			if abs, err := filepath.Abs(img); err == nil {
				id = abs
			}
			var st unix.Stat_t
			if unix.Stat(id, &st) == nil {
				id = fmt.Sprintf("dev %d ino %d", st.Dev, st.Ino)
			}
			s := sha256.Sum256([]byte(id))
			return "dummy-" + hex.EncodeToString(s[:8])
		}
	}
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "unknown"
	}
	return b.String()
}

func acquire(d *Dir, name, what string) (*Held, error) {
	path := filepath.Join(d.Path(), name)
	f, err := d.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		var se *SymlinkError
		if errors.As(err, &se) {
			return nil, &UnsafeError{Dir: d.Path(), Offender: path, Reason: "a symlink, not libreflash's lock file"}
		}
		return nil, permHint(fmt.Errorf("open lock: %w", err))
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		rec := readRecord(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EAGAIN) {
			busy := &BusyError{Path: path, What: what, PID: rec.pid}
			if rec.flasherAlive() {
				busy.FlasherPID = rec.flasher
			}
			return nil, busy
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The lock is ours; a flasher an earlier run started may still be
	// running if it did not inherit the lock.
	if rec := readRecord(f); rec.flasherAlive() {
		_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
		return nil, &BusyError{Path: path, What: what, PID: rec.pid, FlasherPID: rec.flasher}
	}
	h := &Held{f: f, what: what, pid: os.Getpid()}
	h.write(record{pid: h.pid})
	return h, nil
}

// File is the open lock file, for a flasher to inherit (exec.Cmd's
// ExtraFiles): the lock then stays held for as long as the flasher runs,
// even if libreflash is killed.
func (h *Held) File() *os.File { return h.f }

// SetFlasher records the pid of the flasher libreflash started (0 once it
// has exited), so a later run refuses to start while it runs.
func (h *Held) SetFlasher(pid int) error {
	r := record{pid: h.pid, flasher: pid}
	if pid > 0 {
		r.start = procStart(pid)
	}
	return h.write(r)
}

// Unlock releases the lock by closing the file (a flasher that inherited
// it keeps it until it exits). The record is cleared only when no flasher
// recorded in it still runs: such a flasher keeps the next run out.
func (h *Held) Unlock() {
	if h == nil || h.f == nil {
		return
	}
	if rec := readRecord(h.f); !rec.flasherAlive() {
		_ = h.f.Truncate(0)
	}
	h.f.Close()
	h.f = nil
}

// record is what a lock file says: "pid N" and, while a flasher runs,
// "flasher PID STARTTIME" (the start time from /proc tells a reused pid).
type record struct {
	pid, flasher int
	start        uint64
}

func (h *Held) write(r record) error {
	s := fmt.Sprintf("pid %d\n", r.pid)
	if r.flasher > 0 {
		s += fmt.Sprintf("flasher %d %d\n", r.flasher, r.start)
	}
	if err := h.f.Truncate(0); err != nil {
		return err
	}
	_, err := h.f.WriteAt([]byte(s), 0)
	return err
}

// maxRecord bounds what is read from a lock file.
const maxRecord = 4096

func readRecord(f *os.File) record {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, maxRecord))
	var r record
	for _, l := range strings.Split(string(b), "\n") {
		fs := strings.Fields(l)
		switch {
		case len(fs) == 1: // the format before flasher pids: just the pid
			r.pid, _ = strconv.Atoi(fs[0])
		case len(fs) == 2 && fs[0] == "pid":
			r.pid, _ = strconv.Atoi(fs[1])
		case len(fs) == 3 && fs[0] == "flasher":
			r.flasher, _ = strconv.Atoi(fs[1])
			r.start, _ = strconv.ParseUint(fs[2], 10, 64)
		}
	}
	if r.pid < 0 {
		r.pid = 0
	}
	return r
}

// flasherAlive says whether the recorded flasher is still running: the pid
// exists, is not a zombie, and started when the record says.
func (r record) flasherAlive() bool {
	if r.flasher <= 0 || r.flasher == os.Getpid() {
		return false
	}
	if err := unix.Kill(r.flasher, 0); err != nil && !errors.Is(err, unix.EPERM) {
		return false
	}
	st, err := host.ReadProcStat(r.flasher)
	if err != nil {
		return true // no /proc (BSD): the pid exists
	}
	if st.State == "Z" || st.State == "X" {
		return false
	}
	return r.start == 0 || st.Start == r.start
}

func procStart(pid int) uint64 {
	st, _ := host.ReadProcStat(pid)
	return st.Start
}
