// Package rom reads a flash image and decides whether it may be written to
// this machine: size, blank or junk content, the Intel flash descriptor and
// its access rights, coreboot's flash map and CBFS (files, build config,
// version, payload), vendor files that Libreboot release images ship without,
// the board the image was built for, and the GbE MAC address.
//
// Everything in an image is untrusted: parsers index into the bytes already
// read (at most MaxSize), never allocate from a length found inside the
// image, and bound every walk. They never fail the whole read; what they
// cannot make sense of becomes a problem that Check turns into a verdict.
package rom

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"libreflash/internal/exitcode"
)

// MaxSize bounds what Open reads. The largest SPI flash on a
// Libreboot-supported machine is 32 MiB; 64 MiB leaves room without letting
// a wrong path (a disk image, /dev/zero) exhaust memory.
const MaxSize = 64 << 20

// Image is a flash image read into memory and parsed.
type Image struct {
	Path string
	data []byte

	// IFD is the Intel flash descriptor, nil when the image has none.
	IFD *Descriptor
	// FMAP is coreboot's flash map, nil when absent.
	FMAP *FMAP
	// CBFS is the coreboot file system, nil when not found.
	CBFS *CBFS

	sha    sync.Once
	shaHex string
}

// Size is the image's size in bytes.
func (img *Image) Size() int64 { return int64(len(img.data)) }

// Bytes returns the image contents. Callers must not modify them.
func (img *Image) Bytes() []byte { return img.data }

// SHA256 is the hex digest of the whole image, computed once (the
// contents never change: SetMAC returns a copy).
func (img *Image) SHA256() string {
	img.sha.Do(func() {
		s := sha256.Sum256(img.data)
		img.shaHex = hex.EncodeToString(s[:])
	})
	return img.shaHex
}

// OpenError says why an image could not be read. It blocks the run before
// anything is touched (exit 3).
type OpenError struct {
	Path   string
	Reason string
	Err    error
	Tip    string
}

func (e *OpenError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("cannot use %s: %s: %v", e.Path, e.Reason, e.Err)
	}
	return fmt.Sprintf("cannot use %s: %s", e.Path, e.Reason)
}
func (e *OpenError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder: a bad image blocks before any write.
func (e *OpenError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *OpenError) Hint() string { return e.Tip }

const tipPath = "give the path of the Libreboot ROM image file (for example bin/x230_12mb/grub_x230_12mb_libgfxinit_corebootfb_usqwerty.rom from the release archive)"

// Open reads the image at path and parses it. It accepts only a readable
// regular file (symlinks to one are fine) of at most MaxSize bytes.
func Open(path string) (*Image, error) {
	// Look before opening: opening a device can have effects (a watchdog
	// starts counting, a tape rewinds).
	pre, err := os.Stat(path)
	if err != nil {
		return nil, openError(path, err)
	}
	if err := checkMode(path, pre); err != nil {
		return nil, err
	}
	// O_NONBLOCK so that a FIFO swapped in since cannot block the open; the
	// descriptor is then checked again, and must be the file looked at.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &OpenError{Path: path, Reason: "cannot stat", Err: err, Tip: tipPath}
	}
	if err := checkMode(path, st); err != nil {
		return nil, err
	}
	if !os.SameFile(pre, st) {
		return nil, &OpenError{Path: path, Reason: "was replaced while being opened",
			Tip: "wait until whatever writes the file has finished, then run again"}
	}
	// Read through a limit too: the size can change between stat and read.
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, &OpenError{Path: path, Reason: "cannot read", Err: err,
			Tip: "check the file's permissions and the disk; run as a user who can read it"}
	}
	if len(data) > MaxSize {
		return nil, &OpenError{Path: path, Reason: "grew beyond the size limit while being read", Tip: tipPath}
	}
	if int64(len(data)) != st.Size() {
		return nil, &OpenError{Path: path, Reason: fmt.Sprintf("changed size while being read (%d, then %d bytes)", st.Size(), len(data)),
			Tip: "wait until whatever writes the file has finished, then run again"}
	}
	return Parse(path, data), nil
}

// checkMode accepts a regular file of a plausible size.
func checkMode(path string, st fs.FileInfo) error {
	switch m := st.Mode(); {
	case m.IsDir():
		return &OpenError{Path: path, Reason: "is a directory, not a ROM image", Tip: tipPath}
	case !m.IsRegular():
		return &OpenError{Path: path, Reason: fmt.Sprintf("is not a regular file (%s)", fileKind(m)),
			Tip: "copy the image to a regular file first; libreflash does not read devices, pipes or sockets"}
	case st.Size() == 0:
		return &OpenError{Path: path, Reason: "is empty", Tip: tipPath}
	case st.Size() > MaxSize:
		return &OpenError{Path: path, Reason: fmt.Sprintf("is %d bytes, more than any flash chip libreflash writes (%d MiB)", st.Size(), MaxSize>>20), Tip: tipPath}
	}
	return nil
}

func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &OpenError{Path: path, Reason: "no such file", Tip: tipPath}
	case errors.Is(err, syscall.ELOOP):
		return &OpenError{Path: path, Reason: "too many levels of symbolic links (a symlink loop)", Tip: tipPath}
	case errors.Is(err, fs.ErrPermission):
		return &OpenError{Path: path, Reason: "permission denied", Err: nil,
			Tip: "make the file readable (chmod 0644) or run libreflash as a user who can read it"}
	}
	return &OpenError{Path: path, Reason: "cannot open", Err: err, Tip: tipPath}
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return m.Type().String()
}

// Parse parses an image already in memory (a backup just read, a generated
// rehearsal image). data is kept, not copied.
func Parse(path string, data []byte) *Image {
	img := &Image{Path: path, data: data}
	img.IFD = parseDescriptor(data)
	img.FMAP = findFMAP(data)
	img.CBFS = findCBFS(data, img.FMAP)
	return img
}

// NeedsRegionMode reports whether the image's descriptor denies the host
// (CPU/BIOS master) write access to a region in use, so that a full-chip
// write would fail once this descriptor is in force and only `--ifd -i bios`
// is writable. The chip's current descriptor decides what the flasher can
// write now; the plan should prefer it (the flasher's FREG lines) when known.
func (img *Image) NeedsRegionMode() bool {
	return img.IFD != nil && len(img.IFD.HostLocked()) > 0
}
