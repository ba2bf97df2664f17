//go:build openbsd || netbsd || freebsd || dragonfly

package preflight

import "golang.org/x/sys/unix"

// hostSecurelevel reads kern.securelevel. It is a signed int (-1 is
// "permanently insecure"), which SysctlUint32 returns as its bit pattern.
func hostSecurelevel() (int, error) {
	v, err := unix.SysctlUint32("kern.securelevel")
	if err != nil {
		return 0, err
	}
	return int(int32(v)), nil
}
