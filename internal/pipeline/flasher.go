package pipeline

import (
	"context"
	"sync"

	"libreflash/internal/runner"
)

// Flasher is what the pipeline needs of a flasher: the consumer's
// interface (u-root's pkg/flash style), so that every decision branch can
// be tested with a fake. *runner.Flasher implements it.
type Flasher interface {
	Run(ctx context.Context, s runner.Spec) (*runner.Result, error)
}

// runCounter counts the flasher runs that touch the chip, from their
// command lines as the flasher is started.
type runCounter struct {
	mu   sync.Mutex
	runs int
}

func (c *runCounter) add(n int) {
	c.mu.Lock()
	c.runs += n
	c.mu.Unlock()
}

func (c *runCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}

// counted wraps f so that every run with a programmer (one that touches
// the chip) is counted in c.
func counted(f Flasher, c *runCounter) Flasher { return countedFlasher{f, c} }

type countedFlasher struct {
	Flasher
	c *runCounter
}

func (f countedFlasher) Run(ctx context.Context, s runner.Spec) (*runner.Result, error) {
	if s.Programmer != "" {
		f.c.add(1)
	}
	return f.Flasher.Run(ctx, s)
}
