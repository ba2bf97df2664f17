package runner

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hugeOutputs are stand-in flashers that print a lot: one endless line,
// many short error lines, a progress bar that never ends its line.
func hugeOutputs(n int64) []struct{ name, script string } {
	size := strconv.FormatInt(n, 10)
	return []struct{ name, script string }{
		{"one-line", "head -c " + size + " /dev/zero | tr '\\0' x\n"},
		{"error-lines", "yes 'Transaction error!' | head -c " + size + "\n"},
		{"stderr-lines", "yes 'spi_write_cmd failed during command execution' | head -c " + size + " >&2\n"},
		{"bar-no-newline", "echo 'Reading flash... '; yes '[READ] 42% complete... ' | tr -d '\\n' | head -c " + size + "\n"},
	}
}

// peakHeap runs f and returns the highest HeapInuse seen while it ran,
// above what was in use before (sampled every few milliseconds).
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var (
		mu   sync.Mutex
		peak uint64
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapInuse)
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(stop)
	<-done
	if peak < base {
		return 0
	}
	return peak - base
}

// TestRunMemoryBounded: however much a flasher prints, and however long
// its lines, Run keeps a bounded amount in memory (issue 13: 2 GB of
// output took 12 GB resident, a 300 MB line 692 MB). 96 MiB of each kind
// of output here; BenchmarkRunHugeOutput goes to 2 GiB.
func TestRunMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 96 << 20
	const limit = 16 << 20
	for _, tc := range hugeOutputs(n) {
		t.Run(tc.name, func(t *testing.T) {
			f := &Flasher{Path: standIn(t, tc.script)}
			var log countWriter
			var err error
			grew := peakHeap(func() {
				_, err = f.Run(context.Background(), Spec{Args: []string{"-r", "x"}, Log: &log, OnEvent: func(Event) {}})
			})
			if err != nil {
				t.Fatal(err)
			}
			if log.n < n {
				t.Errorf("log got %d bytes, want %d: the output must be streamed to it", log.n, n)
			}
			if grew > limit {
				t.Errorf("heap grew by %d MiB for %d MiB of output, want at most %d MiB", grew>>20, n>>20, limit>>20)
			}
		})
	}
}

// BenchmarkRunHugeOutput reports the heap growth (peak-heap-MiB) and the
// allocations of Run over 2 GiB of output of each kind (the case):
// go test -run X -bench RunHugeOutput ./internal/runner/
func BenchmarkRunHugeOutput(b *testing.B) {
	for _, tc := range hugeOutputs(2 << 30) {
		b.Run(tc.name, func(b *testing.B) {
			f := &Flasher{Path: standIn(b, tc.script)}
			b.ReportAllocs()
			var grew uint64
			for b.Loop() {
				grew = max(grew, peakHeap(func() {
					if _, err := f.Run(context.Background(), Spec{Args: []string{"-r", "x"}, Log: &countWriter{}}); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(grew)/(1<<20), "peak-heap-MiB")
		})
	}
}

type countWriter struct {
	mu sync.Mutex
	n  int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += int64(len(p))
	c.mu.Unlock()
	return len(p), nil
}
