// Package archive owns Libreboot release ROM archives: it checks one against
// the checksum files and the detached OpenPGP signature published beside
// it, lists the ROM images in it with what their names say, tells images
// still waiting for vendor files from complete ones, and hands out one
// image's bytes. It never writes outside memory: nothing from an archive
// reaches the file system here, so a hostile entry name cannot either.
//
// A release archive, as Libreboot's build system (lbmk) makes it, is
// PROJECT-VERSION_TARGET.tar.xz (libreboot-20241206rev11_x230_12mb.tar.xz),
// published with .sha512 (older releases also .sha256) checksum files and a
// .sig detached signature beside it. Inside, bin/TARGET/ holds the images,
// named PAYLOAD_TARGET_INITMODE[_DISPLAY][_KEYMAP].rom (for example
// seagrub_x230_12mb_libgfxinit_corebootfb_usqwerty.rom), and the files
// version, versiondate and projectname. Since the 20241206 releases an
// image that still needs vendor files is named with the prefix
// DO_NOT_FLASH_YET._FIRST,_INJECT_FILES_VIA_INSTRUCTIONS_ON_LIBREBOOT.ORG_
// and padded by one byte so that no flasher accepts it, and the archive
// carries the images' hashes in vendorhashes; `./mk inject ARCHIVE` in the
// lbmk tree of the same release inserts the files and restores the names.
package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/ulikunitz/xz"

	"libreflash/internal/exitcode"
)

// Limits on what an archive may make libreflash read. The largest flash
// chips Libreboot supports are 32 MiB; a release archive has a few dozen
// images.
const (
	MaxImage   = 64 << 20  // one entry
	MaxTotal   = 2 << 30   // all entries, uncompressed
	MaxEntries = 4096      // entries of any kind
	maxSmall   = 64 << 10  // version, vendorhashes and the like
	maxArchive = 512 << 20 // the .tar.xz file itself
)

// UninjectedPrefix starts the name of a release image whose vendor files
// were removed for distribution (lbmk's vendor.sh).
const UninjectedPrefix = "DO_NOT_FLASH_YET._FIRST,_INJECT_FILES_VIA_INSTRUCTIONS_ON_LIBREBOOT.ORG_"

// DocsInject is Libreboot's page on inserting vendor files.
const DocsInject = "https://libreboot.org/docs/install/ivy_has_common.html"

// Release is an opened, checked release archive.
type Release struct {
	Path    string `json:"path"`
	Name    string `json:"name"`    // the archive's file name
	Project string `json:"project"` // libreboot
	Version string `json:"version"` // 20241206rev11
	Target  string `json:"target"`  // x230_12mb
	// Verified says what was checked, and with what.
	Verified Verification `json:"verified"`
	ROMs     []*ROM       `json:"roms"`
}

// ROM is one image in the archive.
type ROM struct {
	Name  string `json:"name"`  // file name, as in the archive
	Entry string `json:"entry"` // path inside the archive
	Size  int64  `json:"size"`
	// From the name (lbmk's naming); empty when the name does not follow it.
	Payload  string `json:"payload,omitempty"`  // grub, seabios, seagrub, uboot, seauboot …
	Board    string `json:"board,omitempty"`    // the target, e.g. x230_12mb
	InitMode string `json:"initmode,omitempty"` // libgfxinit, vgarom, normal …
	Display  string `json:"display,omitempty"`  // corebootfb, txtmode …
	Keymap   string `json:"keymap,omitempty"`   // usqwerty, deqwertz …
	// Uninjected: the image still lacks its vendor files (the
	// DO_NOT_FLASH_YET name, or the one-byte padding).
	Uninjected bool   `json:"uninjected"`
	SHA256     string `json:"sha256"`
	data       []byte
}

// Bytes returns the image (shared; do not modify).
func (r *ROM) Bytes() []byte { return r.data }

// Label names the image for people: payload, display and keyboard layout.
func (r *ROM) Label() string {
	if r.Payload == "" {
		return r.Name
	}
	parts := []string{r.Payload}
	for _, s := range []string{r.InitMode, r.Display, r.Keymap} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// IsArchive reports whether path names a release archive rather than an
// image (by its name: .tar.xz, .tar).
func IsArchive(p string) bool {
	return strings.HasSuffix(p, ".tar.xz") || strings.HasSuffix(p, ".tar")
}

// Error is a refusal: the archive is not opened. Every refusal blocks the
// install before anything touches the chip.
type Error struct {
	Err error
	Tip string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *Error) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *Error) Hint() string { return e.Tip }

func refuse(tip, format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Tip: tip}
}

// Options say how to check an archive.
type Options struct {
	// Keyring is an OpenPGP public key file (armored or binary) with the
	// key that signed the release.
	Keyring string
	// NoVerifySignature skips the signature (--no-verify-signature); the
	// checksum files are still checked when present.
	NoVerifySignature bool
}

// Open reads the archive at p, checks it against its checksum files and
// signature, and lists its images. A failed check refuses the archive
// (*Error, exit 3) and says what was checked.
func Open(p string, o Options) (*Release, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, refuse("give the path of the release archive you downloaded", "cannot open the archive: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, refuse("", "cannot read the archive: %v", err)
	}
	if !st.Mode().IsRegular() {
		return nil, refuse("give the release archive file itself", "%s is not a regular file", p)
	}
	if st.Size() > maxArchive {
		return nil, refuse("a ROM archive of one board is a few MiB to a few hundred MiB; check that this is the right file",
			"%s is %d bytes, more than a release ROM archive can be", p, st.Size())
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxArchive+1))
	if err != nil {
		return nil, refuse("", "cannot read the archive: %v", err)
	}
	r := &Release{Path: p, Name: path.Base(strings.ReplaceAll(p, "\\", "/"))}
	r.Project, r.Version, r.Target = parseArchiveName(r.Name)

	if err := r.verify(raw, o); err != nil {
		return nil, err
	}
	if err := r.read(raw); err != nil {
		return nil, err
	}
	if len(r.ROMs) == 0 {
		return nil, refuse("download the ROM archive of your board (roms/"+r.Project+"-VERSION_BOARD.tar.xz), not the source archive",
			"%s holds no ROM images (bin/BOARD/*.rom)", r.Name)
	}
	return r, nil
}

// parseArchiveName splits PROJECT-VERSION_TARGET.tar.xz.
func parseArchiveName(name string) (project, version, target string) {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".xz"), ".tar")
	head, tgt, ok := strings.Cut(base, "_")
	if !ok {
		return "", "", ""
	}
	proj, ver, ok := strings.Cut(head, "-")
	if !ok {
		return "", "", tgt
	}
	return proj, ver, tgt
}

// read walks the tar stream, keeping the images of bin/TARGET/ in memory.
func (r *Release) read(raw []byte) error {
	var src io.Reader = bytes.NewReader(raw)
	if strings.HasSuffix(r.Name, ".xz") {
		x, err := xz.NewReader(bytes.NewReader(raw))
		if err != nil {
			return refuse("download the archive again and check it", "%s is not an xz file: %v", r.Name, err)
		}
		src = x
	}
	tr := tar.NewReader(bufio.NewReader(src))
	var total int64
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse("download the archive again and check it", "%s is damaged: %v", r.Name, err)
		}
		if n >= MaxEntries {
			return refuse("this is not a release ROM archive", "%s has more than %d entries", r.Name, MaxEntries)
		}
		name := h.Name
		if err := checkEntryName(name); err != nil {
			return refuse("this is not an archive made by Libreboot's build system; do not use it", "%s: entry %q %v", r.Name, name, err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return refuse("this is not an archive made by Libreboot's build system; do not use it",
				"%s: entry %q is a %s, not a file", r.Name, name, typeName(h.Typeflag))
		}
		isROM := strings.HasSuffix(name, ".rom")
		limit := int64(maxSmall)
		if isROM {
			limit = MaxImage + 1 // the padding byte of uninjected images
		}
		if h.Size > limit {
			return refuse("this is not a release ROM archive; do not use it", "%s: entry %q is %d bytes, more than a firmware image can be", r.Name, name, h.Size)
		}
		if total += h.Size; total > MaxTotal {
			return refuse("this is not a release ROM archive; do not use it", "%s unpacks to more than %d bytes", r.Name, int64(MaxTotal))
		}
		data, err := io.ReadAll(io.LimitReader(tr, limit+1))
		if err != nil {
			return refuse("download the archive again and check it", "%s is damaged: %v", r.Name, err)
		}
		if int64(len(data)) > limit {
			return refuse("this is not a release ROM archive; do not use it", "%s: entry %q is larger than its header says", r.Name, name)
		}
		if !isROM {
			continue
		}
		clean := path.Clean(name)
		dir, file := path.Split(clean)
		if path.Base(path.Dir(path.Clean(dir))) != "bin" {
			continue // only bin/TARGET/*.rom are release images
		}
		rom := newROM(clean, file, data)
		r.ROMs = append(r.ROMs, rom)
	}
	sort.Slice(r.ROMs, func(i, j int) bool { return r.ROMs[i].Name < r.ROMs[j].Name })
	return nil
}

// checkEntryName refuses names that could escape a directory if anyone
// ever extracted them: absolute, with .. components, or with odd bytes.
func checkEntryName(name string) error {
	switch {
	case name == "":
		return errors.New("has no name")
	case strings.HasPrefix(name, "/"):
		return errors.New("is an absolute path")
	case strings.ContainsAny(name, "\x00\\"):
		return errors.New("has a NUL or backslash in its name")
	}
	for _, c := range strings.Split(name, "/") {
		if c == ".." {
			return errors.New("climbs out of the archive (..)")
		}
	}
	return nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeSymlink:
		return "symbolic link"
	case tar.TypeLink:
		return "hard link"
	case tar.TypeChar, tar.TypeBlock:
		return "device"
	case tar.TypeFifo:
		return "FIFO"
	}
	return fmt.Sprintf("entry of type %q", t)
}

func newROM(entry, file string, data []byte) *ROM {
	sum := sha256.Sum256(data)
	rom := &ROM{Name: file, Entry: entry, Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:]), data: data}
	name := strings.TrimSuffix(file, ".rom")
	if n, ok := strings.CutPrefix(name, UninjectedPrefix); ok {
		rom.Uninjected, name = true, n
	}
	// A one-byte pad past a flash size marks an uninjected image too.
	if rom.Size%(64<<10) == 1 {
		rom.Uninjected = true
	}
	rom.parseName(name, path.Base(path.Dir(entry)))
	return rom
}

// parseName reads PAYLOAD_TARGET_INITMODE[_DISPLAY][_KEYMAP], where TARGET
// is the directory's name (it contains underscores itself).
func (r *ROM) parseName(name, target string) {
	i := strings.Index(name, "_"+target+"_")
	if target == "" || i <= 0 {
		return
	}
	r.Payload, r.Board = name[:i], target
	rest := strings.Split(name[i+len(target)+2:], "_")
	if len(rest) == 0 {
		return
	}
	r.InitMode, rest = rest[0], rest[1:]
	if len(rest) > 0 && (rest[0] == "corebootfb" || rest[0] == "txtmode") {
		r.Display, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		r.Keymap = strings.Join(rest, "_")
	}
}

// InjectCommand is the command that inserts the vendor files into this
// archive, run in the lbmk source tree of the same release.
func (r *Release) InjectCommand() string {
	return "./mk inject " + r.Name
}

// InjectHint tells how to get flashable images from this archive.
func (r *Release) InjectHint() string {
	src := "the source archive of the same release"
	if r.Project != "" && r.Version != "" {
		src = r.Project + "-" + r.Version + "_src.tar.xz"
	}
	return fmt.Sprintf("in the Libreboot build system of the same release (unpack %s), run:\n  %s\nthen give libreflash the archive it rewrote (%s)", src, r.InjectCommand(), DocsInject)
}
