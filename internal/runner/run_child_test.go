package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// standIn writes a stand-in flasher script (for fault cases the dummy
// programmer cannot produce) in a new root-owned directory.
func standIn(t testing.TB, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "flashrom")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// readPid reads a pid a stand-in wrote, and makes sure the process is gone
// when the test ends (the test started it).
func readPid(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		t.Fatalf("pid file %q", b)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	return pid
}

// alive reports whether pid still runs (a zombie does not count).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && len(b) > i+2 && b[i+2] != 'Z'
}

// gone waits until pid has ended (it was sent SIGKILL; init reaps it).
func gone(pid int) bool {
	for range 100 {
		if !alive(pid) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// Issue 13 item 6: a flasher whose child keeps stdout open after a good
// write is judged by its own exit status and output, and what it left
// behind is killed.
func TestRunStrayChildHoldsStdout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// (It waits until the child is sleep: a fork that has not exec'd yet
	// still bears the script's name.)
	f := &Flasher{Path: standIn(t, `echo "Reading old flash chip contents... done."
echo "Erasing and writing flash chip... Erase/write done."
sleep 300 &
echo $! > '`+pidFile+`'
while [ "$(cat /proc/$!/comm 2>/dev/null)" != sleep ]; do :; done
echo "Verifying flash... VERIFIED."
exit 0
`)}
	var ev events
	res, err := f.Run(context.Background(), Spec{Args: []string{"-w", "x.rom"}, OnEvent: ev.add, Shield: true})
	if err != nil {
		t.Fatalf("a flasher that exited 0 after VERIFIED: %v", err)
	}
	if res.ExitCode != 0 || len(res.Strays) != 1 || res.Strays[0].Name != "sleep" || res.OutputHeld || res.Killed {
		t.Errorf("result %+v, want exit 0 with one stray, sleep, killed", res)
	}
	if !strings.Contains(ev.texts(), "Verifying flash... VERIFIED.") {
		t.Errorf("events:\n%s", ev.texts())
	}
	if res.Duration > 200*time.Second {
		t.Errorf("Run waited for the stray child (%s)", res.Duration)
	}
	pid := readPid(t, pidFile)
	if !gone(pid) {
		t.Errorf("the flasher's stray child %d still runs", pid)
	}
	if len(res.Strays) == 1 && res.Strays[0].PID != pid {
		t.Errorf("stray %+v, want pid %d", res.Strays[0], pid)
	}
}

// A child that left the flasher's process group and holds its output
// cannot keep Run waiting either: the pipes are closed after a grace time.
func TestRunEscapedChildHoldsStderr(t *testing.T) {
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		t.Skip("no setsid")
	}
	defer func(g time.Duration) { pipeGrace = g }(pipeGrace)
	pipeGrace = 100 * time.Millisecond
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	f := &Flasher{Path: standIn(t, `/usr/bin/setsid sh -c 'echo $$ > `+pidFile+`; exec sleep 300' >&2 &
while [ ! -s '`+pidFile+`' ]; do sleep 0.05; done
while [ "$(cat /proc/$(cat '`+pidFile+`')/comm 2>/dev/null)" != sleep ]; do sleep 0.01; done
echo "Reading flash... done."
exit 3
`)}
	res, err := f.Run(context.Background(), Spec{Args: []string{"-r", "x.rom"}})
	var re *RunError
	if !errors.As(err, &re) || re.ExitCode != 3 || res.ExitCode != 3 || !res.OutputHeld || len(res.Strays) != 0 {
		t.Fatalf("err %v, result %+v: want exit status 3, output held, no stray in the group", err, res)
	}
	pid := readPid(t, pidFile)
	if !alive(pid) {
		t.Errorf("the escaped child %d should still run (it left the group)", pid)
	}
	if len(res.Held) != 1 || res.Held[0] != (Process{PID: pid, Name: "sleep"}) {
		t.Errorf("held by %+v, want pid %d, sleep", res.Held, pid)
	}
}

// Issue 13 item 3: a flasher started with the locked lock file keeps the
// lock after libreflash's own descriptor is closed, until it exits; OnStart
// tells its pid.
func TestRunInheritedLockOutlivesParentDescriptor(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(dir, "release")
	f := &Flasher{Path: standIn(t, `while [ ! -e '`+release+`' ]; do sleep 0.05; done
echo "Erase/write done."
`)}
	tryLock := func() error {
		g, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		return syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	}
	var started, checked int
	var heldWhileRunning error
	res, err := f.Run(context.Background(), Spec{Args: []string{"-w", "x.rom"}, Inherit: []*os.File{lock},
		OnStart: func(pid int) {
			started = pid
			lock.Close() // libreflash's copy goes (as if it died)
			heldWhileRunning = tryLock()
			checked++
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if checked != 1 || started != res.Pid {
		t.Errorf("OnStart called %d times with pid %d, result pid %d", checked, started, res.Pid)
	}
	if !errors.Is(heldWhileRunning, syscall.EWOULDBLOCK) {
		t.Errorf("lock while the flasher ran: %v, want EWOULDBLOCK", heldWhileRunning)
	}
	if err := tryLock(); err != nil {
		t.Errorf("lock after the flasher exited: %v", err)
	}
}

// Issue 13: the --help probe's timeout holds when the flasher leaves a
// child that keeps its output open; the whole process group is killed.
func TestProbeTimeoutKillsGroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: Find checks that root owns the flasher")
	}
	defer func(d time.Duration) { probeTimeout = d }(probeTimeout)
	probeTimeout = 500 * time.Millisecond
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	path := standIn(t, `echo "flashrom v1.7.0 on Linux 6.1.0 (x86_64)"
sleep 300 &
echo $! > '`+pidFile+`'
sleep 300
`)
	start := time.Now()
	_, err := Find(context.Background(), FindOptions{Explicit: path})
	if err == nil || !strings.Contains(err.Error(), "did not finish within") {
		t.Fatalf("err %v, want a timeout", err)
	}
	if d := time.Since(start); d > 200*time.Second {
		t.Errorf("Find returned after %s", d)
	}
	if pid := readPid(t, pidFile); !gone(pid) {
		t.Errorf("the --help child %d still runs", pid)
	}
}

// Issue 17 part 7: --help is read once per flasher binary; a changed
// binary is asked again.
func TestFindCachesCapabilities(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: Find checks that root owns the flasher")
	}
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	help, err := filepath.Abs(filepath.Join("testdata", "help", "flashprog-p1.5.txt"))
	if err != nil {
		t.Fatal(err)
	}
	path := standIn(t, "echo run >> '"+count+"'\ncat '"+help+"'\n")
	runs := func() int {
		b, _ := os.ReadFile(count)
		return strings.Count(string(b), "run")
	}
	for range 3 {
		f, err := Find(context.Background(), FindOptions{Explicit: path})
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind != "flashprog" || !f.Caps.Progress {
			t.Fatalf("flasher %+v", f)
		}
		f.Caps.Progress = false // a caller's change stays its own
	}
	if n := runs(); n != 1 {
		t.Errorf("--help ran %d times for one binary, want 1", n)
	}
	// Replaced by another binary (new inode): asked again.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte("#!/bin/sh\necho run >> '"+count+"'\ncat '"+help+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(context.Background(), FindOptions{Explicit: path}); err != nil {
		t.Fatal(err)
	}
	if n := runs(); n != 2 {
		t.Errorf("--help ran %d times after the binary changed, want 2", n)
	}
}

// Probe falls back to --flash-size only when the chip line gives no size,
// and reports the FREG lines once each.
func TestProbeFallbackAndLockedRegions(t *testing.T) {
	f := &Flasher{Path: standIn(t, `echo "flashprog v1.5 on Linux 6.1.0 (x86_64)"
echo "Enabling flash write... FREG0: Flash Descriptor region (0x00000000-0x00000fff) is read-only."
echo "FREG1: BIOS region (0x00500000-0x007fffff) is locked."
echo "FREG2: Management Engine region (0x00001000-0x004fffff) is locked."
echo "FREG2: Management Engine region (0x00001000-0x004fffff) is locked."
case "$*" in
*--flash-name*) echo 'vendor="Winbond" name="W25Q64.V"' ;;
*--flash-size*) echo 8388608 ;;
*) exit 1 ;;
esac
`), Caps: Caps{FlashName: true, FlashSize: true}}
	p, err := f.Probe(context.Background(), "dummy:emulate=W25Q64FV", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Chip; c.Vendor != "Winbond" || c.Name != "W25Q64.V" || c.SizeBytes != 8<<20 {
		t.Errorf("chip %+v", c)
	}
	if len(p.Runs) != 2 || p.Runs[1][len(p.Runs[1])-1] != "--flash-size" {
		t.Errorf("runs %q, want --flash-name then --flash-size", p.Runs)
	}
	if got := strings.Join(p.LockedNames("bios"), ","); got != "Flash Descriptor,Management Engine" {
		t.Errorf("locked regions %q (all: %+v)", got, p.Locked)
	}
	if len(p.Locked) != 3 || p.Locked[0].Access != "read-only" || p.Locked[1] != (LockedRegion{"BIOS", "locked"}) {
		t.Errorf("locked %+v", p.Locked)
	}
}

// The probe is a flasher run too: it holds the locks it is given, so a
// libreflash killed while probing leaves no chip unguarded (issue 13).
func TestProbeHoldsInheritedLock(t *testing.T) {
	dir := t.TempDir()
	lockPath := filepath.Join(dir, "lock")
	lock, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(dir, "release")
	f := &Flasher{Path: standIn(t, `while [ ! -e '`+release+`' ]; do sleep 0.05; done
echo 'Found Winbond flash chip "W25Q128.V" (16384 kB, SPI) on dummy.'
`)}
	var pids []int
	var held []error
	p, err := f.ProbeWith(context.Background(), Spec{Programmer: "dummy", Inherit: []*os.File{lock},
		OnStart: func(pid int) {
			pids = append(pids, pid)
			// Is the lock file among the flasher's open files?
			fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
			found := errors.New("not inherited")
			for _, fd := range fds {
				if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == lockPath {
					found = nil
				}
			}
			held = append(held, found)
			if err := os.WriteFile(release, nil, 0o600); err != nil {
				t.Error(err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Chip.Name != "W25Q128.V" || p.Chip.SizeBytes != 16<<20 {
		t.Errorf("chip %+v", p.Chip)
	}
	if len(pids) != 1 || held[0] != nil {
		t.Errorf("probe runs %v: lock held %v", pids, held)
	}
}
