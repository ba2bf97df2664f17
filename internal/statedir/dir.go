package statedir

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
	"libreflash/internal/host"
)

// Dir is a checked state directory, held open: every file in it is reached
// from this descriptor one component at a time with O_NOFOLLOW, so a
// symlink put in it never leads root elsewhere.
type Dir struct {
	path string
	fd   int
}

// Open checks dir (Check) and opens it. With create, missing directories are
// made first (Ensure); without, a missing dir is an error that
// errors.Is(err, os.ErrNotExist).
func Open(dir string, create bool) (*Dir, error) {
	if create {
		if err := Ensure(dir); err != nil {
			return nil, err
		}
	} else if err := Check(dir); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, permHint(&os.PathError{Op: "open", Path: abs, Err: err})
	}
	return &Dir{path: abs, fd: fd}, nil
}

// Path is the state directory's absolute path.
func (d *Dir) Path() string { return d.path }

// Close releases the descriptor.
func (d *Dir) Close() error { return unix.Close(d.fd) }

// SymlinkError is a symlink where libreflash expects its own file or
// directory; it is never followed.
type SymlinkError struct{ Path string }

func (e *SymlinkError) Error() string {
	return e.Path + " is a symlink; libreflash never follows symlinks in its state directory"
}

// Unwrap makes errors.Is(err, unix.ELOOP) hold.
func (e *SymlinkError) Unwrap() error { return unix.ELOOP }

// parent opens the directory holding rel (relative, slash-separated) and
// returns its descriptor (to close, unless it is d.fd) and the last name.
func (d *Dir) parent(rel string) (int, string, error) {
	rel = filepath.Clean(rel)
	if rel == "." || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return -1, "", fmt.Errorf("%q is not a path inside the state directory", rel)
	}
	parts := strings.Split(rel, "/")
	fd := d.fd
	for i, p := range parts[:len(parts)-1] {
		nfd, err := unix.Openat(fd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if fd != d.fd {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", d.pathErr("open", filepath.Join(parts[:i+1]...), err)
		}
		fd = nfd
	}
	return fd, parts[len(parts)-1], nil
}

func (d *Dir) pathErr(op, rel string, err error) error {
	p := filepath.Join(d.path, rel)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return &SymlinkError{Path: p}
		}
	}
	return &os.PathError{Op: op, Path: p, Err: err}
}

// OpenFile opens rel below the state directory, never following a symlink
// in any component. flag is as for os.OpenFile; O_NOFOLLOW and O_CLOEXEC
// are always added. Only regular files are returned. A file it creates
// has mode perm exactly, whatever the umask.
func (d *Dir) OpenFile(rel string, flag int, perm os.FileMode) (*os.File, error) {
	pfd, name, err := d.parent(rel)
	if err != nil {
		return nil, err
	}
	if pfd != d.fd {
		defer unix.Close(pfd)
	}
	flag |= unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	// A file this call creates gets perm exactly, whatever the umask; so
	// that it knows, O_CREAT is tried with O_EXCL first.
	created := flag&os.O_CREATE != 0
	excl := flag
	if created {
		excl |= unix.O_EXCL
	}
	fd, err := unix.Openat(pfd, name, excl, uint32(perm.Perm()))
	if created && flag&unix.O_EXCL == 0 && errors.Is(err, unix.EEXIST) {
		created = false
		fd, err = unix.Openat(pfd, name, flag&^os.O_CREATE, 0)
	}
	if err != nil {
		return nil, d.pathErr("open", rel, err)
	}
	f := os.NewFile(uintptr(fd), filepath.Join(d.path, rel))
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: f.Name(), Err: errors.New("not a regular file")}
	}
	if created && fi.Mode().Perm() != perm.Perm() {
		if err := f.Chmod(perm.Perm()); err != nil {
			f.Close()
			return nil, err
		}
	}
	// O_NONBLOCK was only there so that a FIFO cannot hang the open.
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// Create makes a new file rel (O_CREAT|O_EXCL): an existing file or
// symlink of that name is an error, never overwritten.
func (d *Dir) Create(rel string, perm os.FileMode) (*os.File, error) {
	return d.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// TooLargeError is a state file larger than libreflash ever writes.
type TooLargeError struct {
	Path string
	Max  int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d bytes, more than libreflash ever writes there", e.Path, e.Max)
}

// ReadFile reads rel, refusing symlinks and files larger than max bytes.
func (d *Dir) ReadFile(rel string, max int64) ([]byte, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &TooLargeError{Path: f.Name(), Max: max}
	}
	return b, nil
}

// Mkdir makes the directory rel (mode 0700 exactly, whatever the umask) if
// it is missing; an existing symlink of that name is an error.
func (d *Dir) Mkdir(rel string) error {
	pfd, name, err := d.parent(rel)
	if err != nil {
		return err
	}
	if pfd != d.fd {
		defer unix.Close(pfd)
	}
	err = host.Mkdirat(pfd, name, DirMode)
	if err == nil || errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return d.pathErr("stat", rel, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			return nil
		case unix.S_IFLNK:
			return &SymlinkError{Path: filepath.Join(d.path, rel)}
		}
		return d.pathErr("mkdir", rel, unix.ENOTDIR)
	}
	return d.pathErr("mkdir", rel, err)
}

// VerifyFile hashes rel (opened as OpenFile does) and compares it with
// wantSHA256 (hex): a file in the state directory that libreflash is about
// to hand to the flasher must still be what it checked.
func (d *Dir) VerifyFile(rel, wantSHA256 string) error {
	f, err := d.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return VerifyReader(f, f.Name(), wantSHA256)
}

// ChangedError is a file that no longer has the content libreflash checked
// and recorded: someone changed it in between.
type ChangedError struct {
	Path      string
	Want, Got string // sha256, hex
}

func (e *ChangedError) Error() string {
	return fmt.Sprintf("%s changed after it was checked (sha256 %s, recorded %s)", e.Path, e.Got, e.Want)
}

// ExitCode implements exitcode.Coder: the file was not used.
func (e *ChangedError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *ChangedError) Hint() string {
	return "something other than libreflash writes in its state directory; find out what, then run the command again"
}

// VerifyPath is VerifyFile for a path: the last component is opened with
// O_NOFOLLOW and must be a regular file.
func VerifyPath(path, wantSHA256 string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return &SymlinkError{Path: path}
		}
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return VerifyReader(f, path, wantSHA256)
}

// VerifyReader hashes r and compares it with wantSHA256 (hex).
func VerifyReader(r io.Reader, name, wantSHA256 string) error {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if !strings.EqualFold(got, wantSHA256) {
		return &ChangedError{Path: name, Want: strings.ToLower(wantSHA256), Got: got}
	}
	return nil
}
