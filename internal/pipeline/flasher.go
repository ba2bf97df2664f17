package pipeline

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"libreflash/internal/runner"
)

// Flasher is what the pipeline needs of a flasher, defined here by its
// consumer (as u-root's pkg/flash defines the SPI it drives): probe the
// chip, read it whole, write an image. The real one runs flashprog or
// flashrom through internal/runner (NewFlasher); tests drive every
// decision branch with a fake.
type Flasher interface {
	// Info names the flasher and what it can do.
	Info() FlasherInfo
	// Probe finds the chip: its name and size, and the regions its
	// descriptor keeps from the host.
	Probe(ctx context.Context, o IO) (*Probe, error)
	// Read reads the whole chip into file.
	Read(ctx context.Context, file string, o IO) (*runner.Result, error)
	// Write writes w.Image.
	Write(ctx context.Context, w WriteOp, o IO) (*runner.Result, error)
}

// IO is how one flasher run talks back: its full output, its parsed
// events, and, while it is shielded from signals, the signals it was spared.
type IO struct {
	Log      io.Writer
	OnEvent  func(runner.Event)
	OnSignal func(os.Signal)
	// Shield: signals and cancellation do not stop the run (writes).
	Shield bool
	// Inherit are the locks the flasher holds with libreflash, and keeps
	// after libreflash dies (issue 13 item 3); OnStart is told its pid.
	Inherit []*os.File
	OnStart func(pid int)
	// OnEnd is told each flasher run's result once it is over (a probe
	// may make two runs).
	OnEnd func(*runner.Result)
}

// WriteOp is one write of the chip.
type WriteOp struct {
	Image string
	// Region writes the BIOS region only, by the chip's own descriptor.
	Region bool
	// Contents, when not "", is a file the chip is known to hold: the
	// flasher need not read the chip first (--flash-contents).
	Contents string
	// NoVerify: the flasher does not verify; libreflash reads the chip
	// once and compares (issue 13 item 8).
	NoVerify bool
}

// Probe is what the flasher found.
type Probe struct {
	Chip   ChipRef
	Locked []string // regions other than BIOS that the host may not write
	// Runs are the command lines of the flasher runs it took.
	Runs [][]string
}

// NewFlasher is the real Flasher: f with programmer as -p on every run.
func NewFlasher(f *runner.Flasher, programmer string) Flasher {
	return &realFlasher{f: f, prog: programmer}
}

type realFlasher struct {
	f    *runner.Flasher
	prog string
}

func (r *realFlasher) Info() FlasherInfo {
	return FlasherInfo{Path: r.f.Path, Kind: r.f.Kind, Version: r.f.Version,
		Progress: r.f.Caps.Progress, FlashContents: r.f.Caps.FlashContents, NoVerify: r.f.Caps.Noverify}
}

func (r *realFlasher) spec(args []string, o IO) runner.Spec {
	if r.f.Caps.Progress {
		args = append(args, "--progress")
	}
	if o.Log != nil {
		// Each run's command line heads its output in flasher.log.
		fmt.Fprintf(o.Log, "# libreflash: %s\n", runner.QuoteArgv(append([]string{r.f.Path, "-p", r.prog}, args...)))
	}
	return runner.Spec{Programmer: r.prog, Args: args, Log: o.Log, Shield: o.Shield, OnEvent: o.OnEvent, OnSignal: o.OnSignal,
		Inherit: o.Inherit, OnStart: o.OnStart, OnEnd: o.OnEnd}
}

func (r *realFlasher) Probe(ctx context.Context, o IO) (*Probe, error) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "# libreflash: probe: %s\n", runner.QuoteArgv([]string{r.f.Path, "-p", r.prog}))
	}
	p, err := r.f.ProbeWith(ctx, runner.Spec{Programmer: r.prog, Log: o.Log, Inherit: o.Inherit, OnStart: o.OnStart, OnEnd: o.OnEnd})
	if p == nil {
		return &Probe{}, err
	}
	// The descriptor on the chip (internal programmer): regions other
	// than BIOS the host may not write.
	return &Probe{Chip: ChipRef{Vendor: p.Chip.Vendor, Name: p.Chip.Name, Size: p.Chip.SizeBytes},
		Locked: p.LockedNames("BIOS"), Runs: p.Runs}, err
}

func (r *realFlasher) Read(ctx context.Context, file string, o IO) (*runner.Result, error) {
	return r.f.Run(ctx, r.spec([]string{"-r", file}, o))
}

func (r *realFlasher) Write(ctx context.Context, w WriteOp, o IO) (*runner.Result, error) {
	args := []string{"-w", w.Image}
	if w.Region {
		// -N: never verify the regions the host may not read.
		args = append(args, "--ifd", "-i", "bios", "-N")
	}
	if w.NoVerify && r.f.Caps.Noverify {
		args = append(args, "-n")
	}
	if w.Contents != "" && r.f.Caps.FlashContents {
		args = append(args, "--flash-contents", w.Contents)
	}
	return r.f.Run(ctx, r.spec(args, o))
}

// runCounter counts the flasher runs that touch the chip, from their
// command lines.
type runCounter struct {
	mu   sync.Mutex
	runs [][]string
}

func (c *runCounter) add(argv ...[]string) {
	c.mu.Lock()
	c.runs = append(c.runs, argv...)
	c.mu.Unlock()
}

func (c *runCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, argv := range c.runs {
		if touchesChip(argv) {
			n++
		}
	}
	return n
}

// touchesChip reports whether a flasher command line talks to a chip:
// every run with a programmer does (--help and --version do not).
func touchesChip(argv []string) bool {
	return slices.Contains(argv, "-p") || slices.ContainsFunc(argv, func(a string) bool {
		return strings.HasPrefix(a, "--programmer")
	})
}
