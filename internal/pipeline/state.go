package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"libreflash/internal/rom"
	"libreflash/internal/statedir"
)

// DefaultStateDir is where libreflash keeps backups, the journal and run
// logs unless --state-dir or LIBREFLASH_STATE_DIR say otherwise.
const DefaultStateDir = statedir.Default

// stamp is the UTC timestamp used in directory names: sortable, no colons.
func stamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// mkdirNew creates a new directory parent/name (mode 0700), or
// parent/name-2, -3 … when that exists: an earlier backup is never reused,
// let alone overwritten. Mkdir fails when the name exists, which is the
// O_EXCL we need.
func mkdirNew(parent, name string) (string, error) {
	for i := 1; i < 1000; i++ {
		p := filepath.Join(parent, name)
		if i > 1 {
			p = fmt.Sprintf("%s-%d", p, i)
		}
		err := statedir.Mkdir(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%s: too many directories named %s", parent, name)
}

// absStateDir is the state directory to use: DefaultStateDir when none was
// given, made absolute so that paths in the summary, manifest, hints and the
// flasher's arguments do not depend on the current directory.
func absStateDir(dir string) string {
	if dir == "" {
		dir = DefaultStateDir
	}
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
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

// ReadDMI reads /sys/class/dmi/id below root through rom.ReadMachine, so a
// backup's directory and manifest name the board exactly as the ROM checks
// see it (vendor placeholders such as "To be filled by O.E.M." dropped).
func ReadDMI(root string) DMI {
	m := rom.ReadMachine(root)
	return DMI{
		SysVendor:      m.SysVendor,
		ProductName:    m.ProductName,
		ProductVersion: m.ProductVersion,
		BoardVendor:    m.BoardVendor,
		BoardName:      m.BoardName,
		BIOSVendor:     m.BIOSVendor,
		BIOSVersion:    m.BIOSVersion,
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
