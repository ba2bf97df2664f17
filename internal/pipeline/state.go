package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"libreflash/internal/exitcode"
)

// DefaultStateDir is where libreflash keeps backups, the journal and run
// logs unless --state-dir or LIBREFLASH_STATE_DIR say otherwise.
const DefaultStateDir = "/var/lib/libreflash"

// StateDir picks the state directory: the flag, then the environment
// variable LIBREFLASH_STATE_DIR, then DefaultStateDir.
func StateDir(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		if d := getenv("LIBREFLASH_STATE_DIR"); d != "" {
			return d
		}
	}
	return DefaultStateDir
}

// stamp is the UTC timestamp used in directory names: sortable, no colons.
func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// mkdirNew creates a new directory parent/name, or parent/name-2, -3 … when
// that exists: an earlier backup is never reused, let alone overwritten.
// Mkdir fails when the name exists, which is the O_EXCL we need.
func mkdirNew(parent, name string) (string, error) {
	for i := 1; i < 1000; i++ {
		p := filepath.Join(parent, name)
		if i > 1 {
			p = fmt.Sprintf("%s-%d", p, i)
		}
		err := os.Mkdir(p, 0o700)
		if err == nil {
			// The umask may only have removed bits; make it exact.
			return p, os.Chmod(p, 0o700)
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: too many directories named %s", parent, name)
}

// ensureDir creates dir (and parents) with mode 0700 if missing. An
// existing directory is left as it is, but must be a directory.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// Lock is the state directory's run lock ($STATE/lock): one libreflash run
// at a time may touch the chip or the state.
type Lock struct{ f *os.File }

// AcquireLock takes $STATE/lock without waiting.
func AcquireLock(stateDir string) (*Lock, error) {
	p := filepath.Join(stateDir, "lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, exitcode.New(exitcode.Blocked,
				"wait for the other run to finish; if none is running, check what holds "+p,
				"another libreflash run holds %s", p)
		}
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock.
func (l *Lock) Release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		l.f.Close()
		l.f = nil
	}
}

// DMI is what the firmware says about the machine, where readable.
type DMI struct {
	SysVendor      string `json:"sys_vendor,omitempty"`
	ProductName    string `json:"product_name,omitempty"`
	ProductVersion string `json:"product_version,omitempty"`
	BoardVendor    string `json:"board_vendor,omitempty"`
	BoardName      string `json:"board_name,omitempty"`
	BIOSVendor     string `json:"bios_vendor,omitempty"`
	BIOSVersion    string `json:"bios_version,omitempty"`
}

// ReadDMI reads /sys/class/dmi/id below root. Unreadable fields stay empty
// (product_serial and friends are root-only and not wanted anyway).
func ReadDMI(root string) DMI {
	rd := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "sys/class/dmi/id", name))
		if err != nil || len(b) > 256 {
			return ""
		}
		s := strings.TrimSpace(string(b))
		if !utf8.ValidString(s) {
			return ""
		}
		return s
	}
	return DMI{
		SysVendor:      rd("sys_vendor"),
		ProductName:    rd("product_name"),
		ProductVersion: rd("product_version"),
		BoardVendor:    rd("board_vendor"),
		BoardName:      rd("board_name"),
		BIOSVendor:     rd("bios_vendor"),
		BIOSVersion:    rd("bios_version"),
	}
}

// Board is the machine's name for directory names: the DMI product name,
// sanitised to [A-Za-z0-9_-], "unknown" when there is none.
func (d DMI) Board() string {
	s := sanitise(d.ProductName)
	if s == "" {
		s = sanitise(d.BoardName)
	}
	if s == "" {
		return "unknown"
	}
	return s
}

func sanitise(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_'
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}
