package preflight

import (
	"io/fs"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"libreflash/internal/runner"
)

// HostEnv is the running machine: root "/" and the real probes.
func HostEnv() *Env {
	return &Env{
		Root:        "/",
		GOOS:        runtime.GOOS,
		GOARCH:      runtime.GOARCH,
		Geteuid:     os.Geteuid,
		Iopl:        hostIopl,
		MapMem:      hostMapMem,
		ReadPhys32:  hostReadPhys32,
		InL:         hostInL,
		Stat:        hostStat,
		Securelevel: hostSecurelevel,
		FindFlasher: runner.Find,
	}
}

// hostStat is a real lstat: the devmem check must see the node the kernel
// serves, not what a symlink points at.
func hostStat(path string) (Node, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return Node{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return Node{
		Char:  st.Mode&unix.S_IFMT == unix.S_IFCHR,
		Major: unix.Major(uint64(st.Rdev)),
		Minor: unix.Minor(uint64(st.Rdev)),
		Perm:  fs.FileMode(st.Mode & 0o777),
		UID:   int(st.Uid),
		GID:   int(st.Gid),
	}, nil
}

// hostMapMem opens path read-only and maps the range read-only. The pages
// are never read: /dev/mem decides on access in mmap itself (range_is_allowed,
// lockdown), so the mapping succeeding or failing is the whole answer, and
// reading chipset registers could have side effects.
func hostMapMem(path string, offset, length int64) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_SYNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b, err := unix.Mmap(fd, offset, int(length), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return &fs.PathError{Op: "mmap", Path: path, Err: err}
	}
	return unix.Munmap(b)
}
