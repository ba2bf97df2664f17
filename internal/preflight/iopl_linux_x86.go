//go:build linux && (amd64 || 386)

package preflight

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// hostIopl sets the I/O privilege level of the calling thread.
func hostIopl(level int) error {
	return unix.Iopl(level)
}

// probeIopl asks for level 3 and drops back to 0 at once. The level is per
// thread, so both calls must run on the same OS thread.
func probeIopl(set func(int) error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := set(3); err != nil {
		return err
	}
	return set(0)
}
