//go:build !(linux && (amd64 || 386))

package preflight

import "golang.org/x/sys/unix"

// hostIopl: off Linux x86 there is no iopl system call to probe; the iopl
// check skips on other CPUs and reports BSD I/O access via securelevel.
func hostIopl(int) error { return unix.ENOSYS }

func probeIopl(set func(int) error) error {
	if err := set(3); err != nil {
		return err
	}
	return set(0)
}
