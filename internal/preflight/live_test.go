//go:build linux && (amd64 || 386)

package preflight_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"libreflash/internal/preflight"
)

// TestLiveProbes runs the real checks on this machine and holds the iopl
// and devmem verdicts against what the system calls return here. The
// probes only read: iopl is dropped back to 0 at once, /dev/mem is mapped
// read-only and never touched.
func TestLiveProbes(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("live probes are Linux-only")
	}
	e := preflight.HostEnv()
	// The lock-state registers are never read on the host in tests (only
	// in fixtures and QEMU guests): nil probes answer "not available".
	e.ReadPhys32, e.InL = nil, nil
	r := preflight.Run(context.Background(), e, preflight.Options{})
	t.Logf("facts: %+v", r.Facts)
	for _, c := range r.Checks {
		t.Logf("%s %s: %s", c.Status, c.ID, c.Summary)
	}
	if r.Facts.EUID != os.Geteuid() {
		t.Errorf("facts EUID %d, want %d", r.Facts.EUID, os.Geteuid())
	}

	iopl, _ := r.Get("iopl")
	switch runtime.GOARCH {
	case "amd64", "386":
		if os.Geteuid() != 0 {
			break // the check does not probe as a user
		}
		err := rawIopl()
		switch {
		case err == nil:
			wantStatus(t, iopl, preflight.Pass)
		case errors.Is(err, syscall.ENOSYS):
			wantStatus(t, iopl, preflight.Fail)
			wantIn(t, iopl.Summary, "CONFIG_X86_IOPL_IOPERM")
		case errors.Is(err, syscall.EPERM):
			wantStatus(t, iopl, preflight.Fail)
			wantIn(t, iopl.Summary, "refused")
		}
	default:
		wantStatus(t, iopl, preflight.Skip)
	}

	devmem, _ := r.Get("devmem")
	var st unix.Stat_t
	if err := unix.Lstat("/dev/mem", &st); err != nil {
		wantStatus(t, devmem, preflight.Fail)
		wantIn(t, devmem.Summary, "/dev/mem does not exist")
		return
	}
	if os.Geteuid() != 0 {
		return
	}
	// Root and /dev/mem exists: open it read-only and map one page as the
	// check may. If even that is refused, the check must fail.
	fd, err := unix.Open("/dev/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err == nil {
		var b []byte
		b, err = unix.Mmap(fd, 0xf0000, 4096, unix.PROT_READ, unix.MAP_SHARED)
		if err == nil {
			unix.Munmap(b)
		}
		unix.Close(fd)
	}
	if err != nil {
		wantStatus(t, devmem, preflight.Fail)
	} else if devmem.Status == preflight.Fail && strings.Contains(devmem.Summary, "low-memory page") {
		t.Errorf("devmem says the low page is refused, but mapping it works: %s", devmem.Summary)
	}
}

// rawIopl is the system call without the check's wrapping: level 3, then
// back to 0, on one thread.
func rawIopl() error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if _, _, e := syscall.RawSyscall(syscall.SYS_IOPL, 3, 0, 0); e != 0 {
		return e
	}
	syscall.RawSyscall(syscall.SYS_IOPL, 0, 0, 0)
	return nil
}

func wantStatus(t *testing.T, c preflight.Check, want preflight.Status) {
	t.Helper()
	if c.Status != want {
		t.Errorf("%s: status %s, want %s (%s)", c.ID, c.Status, want, c.Summary)
	}
}

func wantIn(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not mention %q", s, sub)
	}
}
