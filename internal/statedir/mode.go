package statedir

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"libreflash/internal/host"
)

// What libreflash makes in the state directory gets these modes exactly,
// whatever the umask: the umask can only take bits away, but a program
// libreflash runs (the flasher, writing a read of the chip) creates its
// files with 0666 less the umask, and root's umask 002 or 0 would make
// them group- or world-writable, a state directory Check then refuses.
// So directories are chmodded after mkdir, and a program's output file is
// made by libreflash first (NewOutput) and checked again after (Private).
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// Mkdir makes the directory path with mode 0700 exactly, whatever the
// umask (host.Mkdirat). An existing name is an error for which
// errors.Is(err, fs.ErrExist) holds, so that Mkdir is the O_EXCL of
// directories.
func Mkdir(path string) error {
	if err := host.Mkdirat(unix.AT_FDCWD, path, DirMode); err != nil {
		return &os.PathError{Op: "mkdir", Path: path, Err: err}
	}
	return nil
}

// CreateFile creates path, which must not exist (O_EXCL; a symlink of that
// name is not followed), as a regular file of mode 0600 exactly, open for
// writing.
func CreateFile(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(FileMode))
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if err := f.Chmod(FileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// NewOutput creates path, which must not exist, as an empty regular file
// of mode 0600 (CreateFile) for a program libreflash runs to write into
// (the flasher's read of the chip): such a program opens its output with
// O_TRUNC and keeps the file's mode, so its umask cannot give the file
// more. Call Private when it is done.
func NewOutput(path string) error {
	f, err := CreateFile(path)
	if err != nil {
		return err
	}
	return f.Close()
}

// WriteFile replaces path atomically with data (a temporary file in the
// same directory, renamed over it), mode 0600 exactly, whatever the mode
// of the file it replaces; durable also syncs the data to disk before the
// rename, which costs a disk flush.
func WriteFile(path string, data []byte, durable bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(FileMode)
	if err == nil {
		_, err = tmp.Write(data)
	}
	if err == nil && durable {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Private gives the regular file path mode 0600, in case the program that
// wrote it replaced the file NewOutput made rather than writing into it.
// A symlink is not followed (an error), nor is anything but a regular
// file changed.
func Private(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return &SymlinkError{Path: path}
		}
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return &os.PathError{Op: "stat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return &os.PathError{Op: "chmod", Path: path, Err: errors.New("not a regular file")}
	}
	if os.FileMode(st.Mode).Perm() == FileMode {
		return nil
	}
	if err := unix.Fchmod(fd, uint32(FileMode)); err != nil {
		return &os.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}
