package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Directories libreflash makes, below the host root (a GRUB drop-in
// directory) or in its state directory, get their mode exactly, whatever
// the umask: a umask only takes bits away, so 0277 would leave /etc a
// directory only root can search, and libreflash never relies on it.

// Mkdirat makes name in the directory dirfd (unix.AT_FDCWD: name is a
// path) with mode perm exactly. The new directory is reopened without
// following a symlink before its mode is set, so only the directory just
// made is changed. An existing name is unix.EEXIST, as mkdir(2) says.
func Mkdirat(dirfd int, name string, perm os.FileMode) error {
	if err := unix.Mkdirat(dirfd, name, uint32(perm.Perm())); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, uint32(perm.Perm()))
}

// MkdirAll makes dir and its missing parents, each with mode perm exactly
// (Mkdirat); existing ones are left as they are, and so is one made
// meanwhile by someone else.
func MkdirAll(dir string, perm os.FileMode) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	var missing []string
	for p := abs; ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := Mkdirat(unix.AT_FDCWD, missing[i], perm); err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: missing[i], Err: err}
		}
	}
	return nil
}
