package runner

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/testutil"
)

// selfCPU is this process's user+system CPU time so far (all threads).
func selfCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRunRead16M reads a 16 MiB emulated chip with the real flashrom
// and compares libreflash's own CPU time (pipes, log, parser, events) with
// the flasher's. Target: wrapper ≤ 2 % of flasher.
func BenchmarkRunRead16M(b *testing.B) {
	f := systemFlasher(b)
	dir := b.TempDir()
	chip, _ := testutil.ChipImage(b, dir, 16<<20)
	prog := "dummy:emulate=" + w25q128 + ",image=" + chip
	out := filepath.Join(dir, "read.rom")
	var wrapper, flasher time.Duration
	events := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := selfCPU(b)
		res, err := f.Run(context.Background(), Spec{Programmer: prog, Args: []string{"-r", out},
			Log: discardLog{}, OnEvent: func(Event) { events++ }})
		wrapper += selfCPU(b) - before
		if err != nil {
			b.Fatal(err)
		}
		flasher += res.CPU
	}
	b.StopTimer()
	b.ReportMetric(float64(wrapper.Microseconds())/float64(b.N), "wrapper-µs/op")
	b.ReportMetric(float64(flasher.Microseconds())/float64(b.N), "flasher-µs/op")
	b.ReportMetric(100*float64(wrapper)/float64(flasher), "wrapper-%")
}

type discardLog struct{}

func (discardLog) Write(p []byte) (int, error) { return len(p), nil }
