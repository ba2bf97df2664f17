// Package safepath owns the one rule by which libreflash decides that root
// may trust a path: the file and every directory on the way to it, with
// symlinks followed as the kernel follows them, are owned by a trusted user
// and writable by no one else. The flasher (internal/runner), the system
// tools restore runs (internal/restore) and the state directory
// (internal/statedir) are all checked with it.
package safepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Rule says which owners and modes are trusted.
type Rule struct {
	// Owners are the uids that may own a component; empty means root only.
	Owners []int
	// StickyOK accepts a root-owned, world-writable directory with the
	// sticky bit (/tmp) on the way: the sticky bit keeps others from
	// replacing root's entries in it, and those are checked in turn. The
	// path itself (the last component) is never accepted that way.
	StickyOK bool
	// StickyLast extends StickyOK to the path itself: for the parent of a
	// directory about to be created in it.
	StickyLast bool
	// Top is where the walk starts (checked too); "" or "/" for the whole
	// path. Tests that build a fake root under /tmp set it to that root.
	// Symlinks are only followed below "/" (Top is meant for resolved paths).
	Top string
}

// InsecureError is a component that someone other than a trusted user owns
// or may write.
type InsecureError struct {
	Path   string // the component at fault
	Reason string // "owned by uid 1000, not root", "writable by others"
}

func (e *InsecureError) Error() string { return e.Path + " is " + e.Reason }

// maxSymlinks bounds symlink resolution, as the kernel does (ELOOP).
const maxSymlinks = 40

// Check applies r to path (made absolute) and every directory above it. It
// returns *InsecureError for an untrusted component, and the file system's
// error (not found, ELOOP, ENOTDIR) when the path cannot be walked.
func Check(path string, r Rule) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return r.walk(abs, 0)
}

func (r Rule) walk(path string, hops int) error {
	top := "/"
	if r.Top != "" {
		top = filepath.Clean(r.Top)
	}
	rel, err := filepath.Rel(top, filepath.Clean(path))
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is outside %s", path, top)
	}
	parts := strings.Split(rel, "/")
	if rel == "." {
		parts = nil
	}
	if err := r.node(top, len(parts) == 0); err != nil {
		return err
	}
	cur := top
	for i, p := range parts {
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(next)
		if err != nil {
			return err
		}
		last := i == len(parts)-1
		if fi.Mode()&os.ModeSymlink != 0 {
			// The link itself lives in cur, which is checked; where it
			// points is checked from the start again.
			if hops++; hops > maxSymlinks || top != "/" {
				return &os.PathError{Op: "resolve", Path: next, Err: syscall.ELOOP}
			}
			target, err := os.Readlink(next)
			if err != nil {
				return err
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			return r.walk(filepath.Join(append([]string{target}, parts[i+1:]...)...), hops)
		}
		if !last && !fi.IsDir() {
			return &os.PathError{Op: "walk", Path: next, Err: syscall.ENOTDIR}
		}
		if err := r.node(next, last); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// node checks one resolved component; last says it is the path itself.
func (r Rule) node(path string, last bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	return r.Info(path, fi, r.StickyOK && (!last || r.StickyLast))
}

// Info applies the rule to one file already looked at with Lstat; sticky
// says whether a sticky world-writable root-owned directory is accepted.
func (r Rule) Info(path string, fi os.FileInfo, sticky bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return &InsecureError{Path: path, Reason: "of unknown ownership"}
	}
	if !r.owner(int(st.Uid)) {
		want := "root"
		if len(r.Owners) == 1 && r.Owners[0] != 0 {
			want = fmt.Sprintf("uid %d", r.Owners[0])
		}
		return &InsecureError{Path: path, Reason: fmt.Sprintf("owned by uid %d, not %s", st.Uid, want)}
	}
	m := fi.Mode()
	if m&os.ModeSymlink != 0 {
		return nil // a link's own mode means nothing
	}
	if sticky && fi.IsDir() && st.Uid == 0 && m&os.ModeSticky != 0 && m.Perm()&0o002 != 0 {
		return nil
	}
	var reason string
	switch m.Perm() & 0o022 {
	case 0o022:
		reason = "writable by group and others"
	case 0o020:
		reason = fmt.Sprintf("writable by group %d", st.Gid)
	case 0o002:
		reason = "writable by others"
	default:
		return nil
	}
	if fi.IsDir() && m&os.ModeSticky != 0 {
		reason += " (sticky, as /tmp)"
	}
	return &InsecureError{Path: path, Reason: reason}
}

func (r Rule) owner(uid int) bool {
	if len(r.Owners) == 0 {
		return uid == 0
	}
	for _, o := range r.Owners {
		if o == uid {
			return true
		}
	}
	return false
}

// IsInsecure says whether err is (or wraps) an *InsecureError.
func IsInsecure(err error) bool {
	var ie *InsecureError
	return errors.As(err, &ie)
}
