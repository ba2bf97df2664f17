package restore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"libreflash/internal/host"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// path joins a host path to the root directory (internal/host).
func (m *Manager) path(p string) string { return m.root().Path(p) }

// root is the machine's root: its files, and the running kernel's state
// as /proc shows it there (command line, modules, boot id, release).
func (m *Manager) root() host.Root { return host.Root(m.Root) }

// readHost reads a host file under the root.
func (m *Manager) readHost(host string) ([]byte, error) { return os.ReadFile(m.path(host)) }

func (m *Manager) existsHost(host string) bool {
	_, err := os.Stat(m.path(host))
	return err == nil
}

// snapshot records a file as it is now, before libreflash changes it to
// content new.
func (m *Manager) snapshot(host string, newContent []byte, fallback, remove string) (*FileChange, error) {
	fc := &FileChange{Path: host, NewSHA256: sha(newContent), Fallback: fallback, Remove: remove, new: newContent,
		Mode: 0o644}
	fi, err := os.Stat(m.path(host))
	switch {
	case errors.Is(err, os.ErrNotExist):
		for d := filepath.Dir(host); d != "/" && !m.existsHost(d); d = filepath.Dir(d) {
			fc.Dirs = append([]string{d}, fc.Dirs...)
		}
		return fc, nil
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is not a regular file", host)
	}
	b, err := os.ReadFile(m.path(host))
	if err != nil {
		return nil, err
	}
	fc.Existed, fc.Orig, fc.OrigSHA256 = true, b, sha(b)
	fc.Mode = uint32(fi.Mode().Perm())
	fc.UID, fc.GID = fileOwner(fi)
	return fc, nil
}

// writeHost replaces a host file atomically with data, mode and owner, and
// makes the change durable. A symlinked file (a /etc/default/grub that
// links elsewhere) stays a symlink: its target is written, after checking
// that only root can change the directories on the way to it.
//
// The new content is written to an unnamed file (O_TMPFILE) in the target's
// directory and only then given a name, so a crash at any point leaves no
// temporary file where a boot loader reads every file (grub.d/*.cfg); a new
// file gets its final name directly (linkat fails if it exists: O_EXCL).
// Where the file system has no O_TMPFILE, a named temporary file is used.
func (m *Manager) writeHost(hostPath string, data []byte, mode os.FileMode, uid, gid int) error {
	real, err := m.resolve(hostPath)
	if errors.Is(err, os.ErrNotExist) {
		// A new file: in its directory as the host resolves it.
		var d string
		if d, err = m.resolve(filepath.Dir(hostPath)); err == nil {
			real = filepath.Join(d, filepath.Base(hostPath))
		}
	}
	if err != nil {
		return err
	}
	dir := filepath.Dir(real)
	if err := m.checkOwnership(dir); err != nil {
		return fmt.Errorf("%s: not writing there: %w", hostPath, err)
	}
	if err := m.removeTemps(real); err != nil {
		return err
	}
	fd, err := unix.Open(dir, oTmpfile|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return m.writeRenameio(real, data, mode, uid, gid)
	}
	f := os.NewFile(uintptr(fd), real)
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chown(uid, gid); err != nil && os.Geteuid() == 0 {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	m.step("file-temp")
	link := func(to string) error {
		return unix.Linkat(unix.AT_FDCWD, host.SelfFD(fd), unix.AT_FDCWD, to, unix.AT_SYMLINK_FOLLOW)
	}
	if _, err := os.Lstat(real); errors.Is(err, os.ErrNotExist) {
		if err := link(real); err != nil {
			return err
		}
		return syncDir(dir)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, fmt.Sprintf(".%s%s%x%s", filepath.Base(real), tempInfix, rnd, tempSuffix))
	if err := link(tmp); err != nil {
		return err
	}
	m.step("file-linked")
	if err := os.Rename(tmp, real); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

// The temporary name writeHost links an existing file's replacement to,
// for the rename over it: ".NAME.libreflash-<16 hex digits>.tmp". Linux
// cannot link a file over another, so a crash between the link and the
// rename leaves one such file beside NAME; removeTemps takes it away.
const (
	tempInfix  = ".libreflash-"
	tempSuffix = ".tmp"
)

// removeTemps removes what a crash of an earlier writeHost left beside the
// file real: regular files named exactly as writeHost names its temporary
// file for real, owned by the trusted user. Nothing else is touched.
func (m *Manager) removeTemps(real string) error {
	dir, prefix := filepath.Dir(real), "."+filepath.Base(real)+tempInfix
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil // no directory, no leftovers; writing will tell
	}
	removed := false
	for _, de := range des {
		n := de.Name()
		hexPart, ok1 := strings.CutPrefix(n, prefix)
		hexPart, ok2 := strings.CutSuffix(hexPart, tempSuffix)
		if !ok1 || !ok2 || len(hexPart) != 16 || strings.Trim(hexPart, "0123456789abcdef") != "" {
			continue
		}
		fi, err := os.Lstat(filepath.Join(dir, n))
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if uid, _ := fileOwner(fi); uid != m.TrustedUID {
			continue
		}
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		removed = true
	}
	if removed {
		return syncDir(dir)
	}
	return nil
}

// writeRenameio is writeHost for file systems without O_TMPFILE.
func (m *Manager) writeRenameio(real string, data []byte, mode os.FileMode, uid, gid int) error {
	pf, err := renameio.NewPendingFile(real, renameio.WithStaticPermissions(mode))
	if err != nil {
		return err
	}
	defer pf.Cleanup()
	if _, err := pf.Write(data); err != nil {
		return err
	}
	if err := pf.Chown(uid, gid); err != nil && os.Geteuid() == 0 {
		return err
	}
	if err := pf.Chmod(mode); err != nil {
		return err
	}
	m.step("file-temp")
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(real))
}

func (m *Manager) removeHost(host string) error {
	real := m.path(host)
	err := os.Remove(real)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(real))
}

// applyFile writes libreflash's version of the file. New files get mode
// 0644 owned by the trusted user.
func (m *Manager) applyFile(fc *FileChange) error {
	mode, uid, gid := os.FileMode(fc.Mode), fc.UID, fc.GID
	if !fc.Existed {
		mode, uid, gid = 0o644, m.TrustedUID, 0
		if err := host.MkdirAll(filepath.Dir(m.path(fc.Path)), 0o755); err != nil {
			return err
		}
	}
	return m.writeHost(fc.Path, fc.new, mode, uid, gid)
}

// ConflictError is a file libreflash changed that was since edited so that
// libreflash's change can no longer be taken out safely.
type ConflictError struct{ Path, Reason string }

func (e *ConflictError) Error() string { return fmt.Sprintf("%s: %s", e.Path, e.Reason) }

// Hint implements exitcode.Hinter.
func (e *ConflictError) Hint() string {
	return "edit the file by hand to remove what libreflash added, then run 'libreflash restore' again"
}

// undoFile puts a file back. It is idempotent: a file already back to its
// original is left alone, a file still as libreflash wrote it gets its
// original bytes, mode and owner back, and a file edited since has only
// libreflash's change taken out (Fallback).
func (m *Manager) undoFile(fc *FileChange) (changed bool, err error) {
	// A crash while writing it may have left a temporary file beside it.
	if real, err := m.resolve(fc.Path); err == nil {
		if err := m.removeTemps(real); err != nil {
			return false, err
		}
	}
	cur, err := os.ReadFile(m.path(fc.Path))
	exists := err == nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	switch {
	case !fc.Existed && !exists:
		return false, m.removeDirs(fc)
	case fc.Existed && exists && bytes.Equal(cur, fc.Orig):
		// Content is back; make sure mode and owner are too (a crash may
		// have come between rename and nothing else, but be exact).
		return false, m.fixMeta(fc)
	case exists && sha(cur) == fc.NewSHA256:
		if !fc.Existed {
			if err := m.removeHost(fc.Path); err != nil {
				return false, err
			}
			return true, m.removeDirs(fc)
		}
		return true, m.writeHost(fc.Path, fc.Orig, os.FileMode(fc.Mode), fc.UID, fc.GID)
	case !exists:
		// libreflash never deletes a file that existed: someone else did.
		return false, &ConflictError{Path: fc.Path, Reason: "was removed since libreflash changed it; not recreating it"}
	}
	// Edited since libreflash wrote it.
	var out []byte
	switch fc.Fallback {
	case "delete":
		if err := m.removeHost(fc.Path); err != nil {
			return false, err
		}
		return true, m.removeDirs(fc)
	case "grub-var":
		out, err = removeGrubArg(cur, fc.Orig, fc.Remove)
	case "words":
		out = removeWord(cur, fc.Orig, fc.Remove)
	case "options":
		out = removeOption(cur, fc.Orig, fc.Remove)
	case "line":
		out = removeLine(cur, fc.Remove)
	default:
		return false, &ConflictError{Path: fc.Path, Reason: "was edited since libreflash changed it"}
	}
	if err != nil {
		return false, &ConflictError{Path: fc.Path, Reason: err.Error()}
	}
	if bytes.Equal(out, cur) {
		return false, nil
	}
	fi, err := os.Stat(m.path(fc.Path))
	if err != nil {
		return false, err
	}
	uid, gid := fileOwner(fi)
	return true, m.writeHost(fc.Path, out, fi.Mode().Perm(), uid, gid)
}

// fileOwner returns a file's owner and group (root's where unknown).
func fileOwner(fi os.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

func (m *Manager) fixMeta(fc *FileChange) error {
	real := m.path(fc.Path)
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != os.FileMode(fc.Mode) {
		if err := os.Chmod(real, os.FileMode(fc.Mode)); err != nil {
			return err
		}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != fc.UID || int(st.Gid) != fc.GID) && os.Geteuid() == 0 {
		return os.Chown(real, fc.UID, fc.GID)
	}
	return nil
}

func statHost(m *Manager, host string) (os.FileInfo, error) { return os.Stat(m.path(host)) }

// removeDirs removes, innermost first, the directories Apply created, if
// nothing else was put in them since.
func (m *Manager) removeDirs(fc *FileChange) error {
	for i := len(fc.Dirs) - 1; i >= 0; i-- {
		real := m.path(fc.Dirs[i])
		des, err := os.ReadDir(real)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil || len(des) > 0 {
			return nil
		}
		if err := os.Remove(real); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(real)); err != nil {
			return err
		}
	}
	return nil
}
