package statedir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
	"libreflash/internal/host"
	"libreflash/internal/runner"
	"libreflash/internal/safepath"
)

// UnsafeError is a state directory that someone other than root (or the
// user running libreflash) owns or could change: a path component, the
// directory itself or something in it. Nothing was read from it.
type UnsafeError struct {
	Dir      string // the state directory
	Offender string // the component or entry at fault
	Reason   string // "owned by uid 1000, not root", "a FIFO", ...
	// Fix is the command that takes the group and other write bits away
	// when that is all that is wrong with the offender: the state
	// directory or something in it, owned as it must be (a directory
	// made under a umask of 002, say). Empty otherwise.
	Fix string
}

func (e *UnsafeError) Error() string {
	return fmt.Sprintf("refusing state directory %s: %s is %s", e.Dir, e.Offender, e.Reason)
}

// ExitCode implements exitcode.Coder: nothing was touched.
func (e *UnsafeError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *UnsafeError) Hint() string {
	if e.Fix != "" {
		return "root trusts what it finds in the state directory (the journal, backups, the image to write), so only its owner may write there;\n" +
			"if no one else could have written there (look at what is in " + e.Offender + " first), take the write bits away and run again:\n" +
			"  " + e.Fix
	}
	return "root trusts what it finds in the state directory (the journal, backups, the image to write), so it must be root's alone;\n" +
		"use one only root can write, such as the default " + Default + " (or: sudo mkdir -m 700 /root/libreflash, then --state-dir /root/libreflash),\n" +
		"and do not chown a directory another user could have prepared: look at what is in " + e.Offender + " first"
}

// owners are the uids trusted to own state: root, and the user running
// libreflash (for the commands an unprivileged user may run on their own
// directory, such as status or a backup through an external programmer).
func owners() []int {
	if u := os.Geteuid(); u != 0 {
		return []int{0, u}
	}
	return []int{0}
}

// maxEntries bounds the walk of the state directory's contents.
const maxEntries = 100000

// maxDepth bounds how deep the walk goes; libreflash's own layout is
// rehearsals/runs/<ts>/file at most.
const maxDepth = 8

// Check refuses, with *UnsafeError, a state directory that others could
// have prepared: every component of its path must be owned by root (or the
// user running libreflash) and writable by no one else (a sticky, world-
// writable directory such as /tmp is accepted on the way, never as the
// state directory or inside it), and so must every entry in it, which may
// only be a directory or a regular file (a symlinked journal.json is
// tolerated: it is never followed, only ignored and replaced). A
// directory that does not exist yet is fine when its nearest existing
// ancestor is. Check reads no file.
func Check(dir string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	rule := safepath.Rule{Owners: owners(), StickyOK: true}
	exist := abs
	for {
		if _, err := os.Lstat(exist); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return permHint(err)
		}
		parent := filepath.Dir(exist)
		if parent == exist {
			break
		}
		exist, rule.StickyLast = parent, true
	}
	if err := safepath.Check(exist, rule); err != nil {
		var ie *safepath.InsecureError
		if errors.As(err, &ie) {
			return unsafeError(abs, ie)
		}
		return permHint(fmt.Errorf("state directory %s: %w", abs, err))
	}
	if exist != abs {
		return nil
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return permHint(err)
	}
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return permHint(fmt.Errorf("state directory %s: %w", abs, &os.PathError{Op: "open", Path: real, Err: err}))
	}
	n := 0
	return walk(abs, fd, abs, 0, &n)
}

// unsafeError is the UnsafeError for ie, found checking the state
// directory dir. An offender that is only group- or world-writable, and
// owned as it must be, gets the chmod that mends it: for the state
// directory or an entry in it, of the whole state directory (libreflash's
// alone); for a directory above it, of that directory only. A sticky
// directory such as /tmp gets none: its write bits are the others'.
func unsafeError(dir string, ie *safepath.InsecureError) *UnsafeError {
	e := &UnsafeError{Dir: dir, Offender: ie.Path, Reason: ie.Reason}
	fi, err := os.Lstat(ie.Path)
	if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) || fi.Mode().Perm()&0o022 == 0 || fi.Mode()&os.ModeSticky != 0 {
		return e
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || !slices.Contains(owners(), int(st.Uid)) {
		return e
	}
	e.Fix = "chmod go-w " + runner.QuotePath(ie.Path)
	if within(ie.Path, dir) {
		if di, err := os.Stat(dir); err != nil || di.Mode()&os.ModeSticky != 0 {
			return e
		}
		e.Fix = "chmod -R go-w " + runner.QuotePath(dir)
	}
	if st.Uid == 0 {
		e.Fix = "sudo " + e.Fix
	}
	return e
}

// within says whether p is dir or below it, as named or with symlinks
// resolved.
func within(p, dir string) bool {
	dirs := []string{dir}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dirs = append(dirs, real)
	}
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// walk checks the entries of the open directory fd (named name), closing fd.
func walk(dir string, fd int, name string, depth int, n *int) error {
	d := os.NewFile(uintptr(fd), name)
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return permHint(fmt.Errorf("read %s: %w", name, err))
	}
	rule := safepath.Rule{Owners: owners()}
	for _, e := range names {
		if *n++; *n > maxEntries {
			return &UnsafeError{Dir: dir, Offender: dir, Reason: fmt.Sprintf("holding more than %d entries", maxEntries)}
		}
		p := filepath.Join(name, e)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, e, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile
			}
			return permHint(&os.PathError{Op: "lstat", Path: p, Err: err})
		}
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if err := rule.Info(p, fi, false); err != nil {
			var ie *safepath.InsecureError
			if errors.As(err, &ie) {
				return unsafeError(dir, ie)
			}
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
		case unix.S_IFLNK:
			// libreflash makes none. A symlinked journal is tolerated
			// (never followed, ignored and replaced), so that a lost
			// journal does not keep restore from its work.
			if depth != 0 || e != "journal.json" {
				return &UnsafeError{Dir: dir, Offender: p, Reason: "a symlink, which libreflash never makes there"}
			}
		case unix.S_IFDIR:
			if depth+1 >= maxDepth {
				return &UnsafeError{Dir: dir, Offender: p, Reason: "nested deeper than libreflash ever writes"}
			}
			sub, err := unix.Openat(fd, e, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return permHint(&os.PathError{Op: "open", Path: p, Err: err})
			}
			if err := walk(dir, sub, p, depth+1, n); err != nil {
				return err
			}
		default:
			return &UnsafeError{Dir: dir, Offender: p, Reason: "neither a file nor a directory (" + fi.Mode().Type().String() + ")"}
		}
	}
	return nil
}

// Ensure checks dir (Check) and creates it and its missing parents with
// mode 0700 exactly, whatever the umask: backups and the journal hold the
// machine's firmware and its boot configuration.
func Ensure(dir string) error {
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return permHint(fmt.Errorf("create state directory: %s is not a directory", dir))
	}
	if err := Check(dir); err != nil {
		return err
	}
	err := host.MkdirAll(dir, DirMode)
	if err == nil {
		var fi os.FileInfo
		if fi, err = os.Stat(dir); err == nil && !fi.IsDir() {
			err = fmt.Errorf("%s is not a directory", dir)
		}
	}
	if err != nil {
		return permHint(fmt.Errorf("create state directory: %w", err))
	}
	// What existed was checked; check what was just made (and anything
	// that raced it).
	return Check(dir)
}

// permHint gives a state-directory error the hint most users need.
func permHint(err error) error {
	var ue *UnsafeError
	if errors.As(err, &ue) {
		return err
	}
	if errors.Is(err, os.ErrPermission) {
		return exitcode.Wrap(exitcode.Error, "run it as root (sudo), or choose another --state-dir", err)
	}
	return exitcode.Wrap(exitcode.Error, "choose another --state-dir, or make sure its path is a writable directory", err)
}
