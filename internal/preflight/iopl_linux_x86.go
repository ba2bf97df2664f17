//go:build linux && (amd64 || 386)

package preflight

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// hostIopl raises or drops the I/O privilege level. The level belongs to
// the calling thread, so the goroutine stays on one thread while it runs;
// the probe calls it twice (3, then 0) under the same lock.
func hostIopl(level int) error {
	return unix.Iopl(level)
}

// probeIopl asks for level 3 and drops back to 0 at once, on one OS thread.
func probeIopl(set func(int) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := set(3); err != nil {
		return err
	}
	return set(0)
}
