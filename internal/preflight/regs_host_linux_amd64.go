//go:build linux && amd64

package preflight

import (
	"io/fs"
	"os"
	"runtime"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hostReadPhys32 maps the page holding addr read-only and loads the one
// aligned 32-bit register with a single access (MMIO registers must not be
// read byte by byte).
func hostReadPhys32(path string, addr uint64) (uint32, error) {
	if addr%4 != 0 {
		return 0, &fs.PathError{Op: "read", Path: path, Err: unix.EINVAL}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_SYNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	page := uint64(os.Getpagesize())
	base := addr &^ (page - 1)
	b, err := unix.Mmap(fd, int64(base), int(page), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, &fs.PathError{Op: "mmap", Path: path, Err: err}
	}
	defer unix.Munmap(b)
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[addr-base]))), nil
}

// hostInL reads one I/O port with permission for just that port, taken
// and dropped on one locked OS thread (I/O permissions are per thread).
func hostInL(port uint16) (uint32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Ioperm(int(port), 4, 1); err != nil {
		return 0, &os.SyscallError{Syscall: "ioperm", Err: err}
	}
	v := inl(port)
	_ = unix.Ioperm(int(port), 4, 0)
	return v, nil
}

// inl is the x86 IN instruction (inl_amd64.s).
func inl(port uint16) uint32
