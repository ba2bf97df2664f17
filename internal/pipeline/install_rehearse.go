package pipeline

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"libreflash/internal/exitcode"
	"libreflash/internal/statedir"
)

// A rehearsal runs the whole install against flashrom's or flashprog's dummy
// programmer: an emulated SPI chip backed by a file. The chip model must
// have exactly the ROM's size, and the flasher must recognise it as exactly
// one chip, or the plan (--flash-name, --flash-size) would fail.

// EmulatedChip is the dummy programmer's emulation of a chip of one size.
type EmulatedChip struct {
	Emulate string   // dummy's emulate= value
	Extra   []string // extra dummy parameters (size= for VARIABLE_SIZE)
}

// EmulatedChipFor picks the emulated chip for an image of size bytes.
// The dummy's 8 MiB chip, MX25L6436, matches four chip definitions, and the
// flasher then refuses to go on without -c; flashrom's VARIABLE_SIZE chip
// is unambiguous and covers every other size too (12 MiB ThinkPad X230
// images, for instance), but flashprog does not have it.
func EmulatedChipFor(size int64, flasherKind string) (EmulatedChip, error) {
	switch size {
	case 4 << 20:
		return EmulatedChip{Emulate: "SST25VF032B"}, nil
	case 16 << 20:
		return EmulatedChip{Emulate: "W25Q128FV"}, nil
	}
	if flasherKind != "flashprog" && size > 0 && size%1024 == 0 {
		return EmulatedChip{Emulate: "VARIABLE_SIZE", Extra: []string{fmt.Sprintf("size=%d", size)}}, nil
	}
	return EmulatedChip{}, exitcode.New(exitcode.Blocked,
		"with flashprog, rehearsals emulate 4 and 16 MiB chips; flashrom's dummy emulates any size (pass --flasher /usr/sbin/flashrom)",
		"cannot rehearse with an image of %d bytes: %s's dummy programmer has no chip of that size", size, flasherKind)
}

// Programmer is the -p argument for the emulated chip backed by image.
// Extra are more dummy parameters (fault injection, freq=) appended as is.
func (c EmulatedChip) Programmer(image string, extra ...string) string {
	p := "dummy:emulate=" + c.Emulate
	for _, e := range c.Extra {
		p += "," + e
	}
	p += ",image=" + image
	for _, e := range extra {
		p += "," + e
	}
	return p
}

// dummyImagePath returns a path to file that fits among the dummy
// programmer's parameters, which commas separate with no way to escape
// one: file itself, or, when file has a comma (a --state-dir such as
// /tmp/a,b), a symlink to it in a new private directory, which done
// removes.
func dummyImagePath(file string) (path string, done func(), err error) {
	if !strings.Contains(file, ",") {
		return file, func() {}, nil
	}
	base := os.TempDir()
	if strings.Contains(base, ",") {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "libreflash-rehearsal-")
	if err != nil {
		return "", nil, fmt.Errorf("rehearsal: a path without commas for the emulated chip: %w", err)
	}
	link := filepath.Join(dir, "chip.bin")
	if err := os.Symlink(file, link); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("rehearsal: a path without commas for the emulated chip: %w", err)
	}
	return link, func() { _ = os.RemoveAll(dir) }, nil
}

// ifdSignature is the Intel flash descriptor's FLVALSIG, at offset 0x10.
var ifdSignature = []byte{0x5a, 0xa5, 0xf0, 0x0f}

// FactoryImage returns a stand-in for a machine's factory firmware for a
// rehearsal seeded from nothing: the ROM's own flash descriptor (so that a
// region-mode write finds the same layout on the chip as a real machine
// would have) and, elsewhere, deterministic data that differs from the ROM
// everywhere, with the erased (0xff) tail real vendor images have.
func FactoryImage(rom []byte) []byte {
	out := make([]byte, len(rom))
	r := rand.New(rand.NewPCG(0x11b3eb007, uint64(len(rom))))
	for i := 0; i+8 <= len(out); i += 8 {
		binary.LittleEndian.PutUint64(out[i:], r.Uint64())
	}
	// The last 1/16th erased, as in vendor images whose BIOS does not fill
	// its region.
	tail := len(out) / 16
	for i := len(out) - tail; i < len(out); i++ {
		out[i] = 0xff
	}
	if len(rom) >= 0x1000 && bytes.Equal(rom[0x10:0x14], ifdSignature) {
		copy(out, rom[:0x1000])
	}
	return out
}

// seedChip writes the emulated chip's backing file: a copy of from (a real
// backup, say), or FactoryImage(rom). The file must have the chip's exact
// size, or the dummy programmer silently starts with an erased chip.
func seedChip(path, from string, rom []byte) error {
	var data []byte
	if from != "" {
		f, err := os.Open(from)
		if err != nil {
			return exitcode.Wrap(exitcode.Blocked, "pass --rehearse-from a readable image, such as a backup", fmt.Errorf("rehearsal image: %w", err))
		}
		defer f.Close()
		data, err = io.ReadAll(io.LimitReader(f, int64(len(rom))+1))
		if err != nil {
			return exitcode.Wrap(exitcode.Blocked, "pass --rehearse-from a readable image, such as a backup", fmt.Errorf("rehearsal image: %w", err))
		}
		if len(data) != len(rom) {
			return exitcode.New(exitcode.Blocked, "the rehearsal image stands for the chip's contents: it must be as large as the ROM",
				"rehearsal image %s has %d bytes, the ROM %d", from, len(data), len(rom))
		}
	} else {
		data = FactoryImage(rom)
	}
	return statedir.WriteFile(path, data, false)
}
