package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"libreflash/internal/rom"
	"libreflash/internal/runner"
)

// fakeFlasher is a Flasher over a chip in memory, for the decision
// branches of install that need no real flasher: what the flasher says and
// what it does to the chip are set per test. It reads and writes like
// flashrom does: a region write follows the chip's own descriptor.
type fakeFlasher struct {
	mu   sync.Mutex
	chip []byte
	argv [][]string // every run, in order
	// onWrite, when set, replaces the default write (copy the image in).
	// n counts the writes from 1.
	onWrite func(f *fakeFlasher, n int, w WriteOp, o IO) error
	writes  []WriteOp
	// readErr, when set, fails the nth read.
	readErr func(n int) error
	reads   int
}

func newFake(chip []byte) *fakeFlasher {
	return &fakeFlasher{chip: append([]byte(nil), chip...)}
}

func (f *fakeFlasher) Info() FlasherInfo {
	return FlasherInfo{Path: "/fake/flashrom", Kind: "flashrom", Version: "test", FlashContents: true, NoVerify: true}
}

func (f *fakeFlasher) run(args ...string) []string {
	argv := append([]string{"/fake/flashrom", "-p", "fake"}, args...)
	f.argv = append(f.argv, argv)
	return argv
}

func (f *fakeFlasher) Probe(_ context.Context, o IO) (*Probe, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	argv := f.run("--flash-name")
	return &Probe{Chip: ChipRef{Vendor: "Fake", Name: "FAKE25Q", Size: int64(len(f.chip))}, Runs: [][]string{argv}}, nil
}

func (f *fakeFlasher) Read(ctx context.Context, file string, o IO) (*runner.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	argv := f.run("-r", file)
	res := &runner.Result{Argv: argv}
	if err := ctx.Err(); err != nil {
		res.Cancelled, res.ExitCode = true, -1
		return res, &runner.CancelledError{Argv: argv, Err: err}
	}
	event(o, runner.Event{Kind: runner.EvStageStart, Stage: runner.StageRead})
	if f.readErr != nil {
		if err := f.readErr(f.reads); err != nil {
			fmt.Fprintln(o.Log, "Read operation failed!")
			res.ExitCode = 1
			return res, &runner.RunError{Argv: argv, ExitCode: 1, Err: err}
		}
	}
	if err := os.WriteFile(file, f.chip, 0o600); err != nil {
		return res, err
	}
	event(o, runner.Event{Kind: runner.EvStageEnd, Stage: runner.StageRead, OK: true})
	return res, nil
}

func (f *fakeFlasher) Write(_ context.Context, w WriteOp, o IO) (*runner.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	args := []string{"-w", w.Image}
	if w.Region {
		args = append(args, "--ifd", "-i", "bios")
	}
	if w.NoVerify {
		args = append(args, "-n")
	}
	argv := f.run(args...)
	f.writes = append(f.writes, w)
	res := &runner.Result{Argv: argv}
	var err error
	if f.onWrite != nil {
		err = f.onWrite(f, len(f.writes), w, o)
	} else {
		err = f.copyIn(w, o, -1)
	}
	if err != nil {
		res.ExitCode = 1
		return res, &runner.RunError{Argv: argv, ExitCode: 1, Err: err}
	}
	return res, nil
}

// copyIn writes w.Image as the flasher would, stopping after n bytes when
// n >= 0 (a write cut short).
func (f *fakeFlasher) copyIn(w WriteOp, o IO, n int) error {
	img, err := os.ReadFile(w.Image)
	if err != nil {
		return err
	}
	lo, hi := 0, len(f.chip)
	if w.Region {
		d := rom.Parse("chip", f.chip).IFD
		r, ok := d.Region("bios")
		if d == nil || !ok {
			return errors.New("no BIOS region in the chip's descriptor")
		}
		lo, hi = int(r.Base), int(r.Limit)+1
	}
	event(o, runner.Event{Kind: runner.EvStageStart, Stage: runner.StageWrite})
	if n >= 0 && lo+n < hi {
		hi = lo + n
		copy(f.chip[lo:hi], img[lo:hi])
		fmt.Fprintln(o.Log, "Erase/write failed")
		event(o, runner.Event{Kind: runner.EvStageEnd, Stage: runner.StageWrite, OK: false})
		return errors.New("exit status 1")
	}
	copy(f.chip[lo:hi], img[lo:hi])
	event(o, runner.Event{Kind: runner.EvStageEnd, Stage: runner.StageWrite, OK: true})
	return nil
}

func (f *fakeFlasher) contents() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]byte(nil), f.chip...)
}

func event(o IO, e runner.Event) {
	if o.OnEvent != nil {
		o.OnEvent(e)
	}
}

// moveBIOS returns a copy of an image with an Intel flash descriptor whose
// BIOS region (FLREG1) starts 4 KiB later: the same machine, another
// layout.
func moveBIOS(data []byte) []byte {
	out := append([]byte(nil), data...)
	d := rom.Parse("x", out).IFD
	off := d.FRBA + 4
	v := binary.LittleEndian.Uint32(out[off:])
	binary.LittleEndian.PutUint32(out[off:], v+1)
	return out
}
