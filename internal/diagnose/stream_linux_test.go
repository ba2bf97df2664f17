//go:build linux

package diagnose

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkDiagnoseStream500MB streams a 500 MB log — every fixture, again
// and again: progress bars, repeated errors, runs that succeed and fail —
// from a file through DiagnoseReader, as 'libreflash diagnose FILE' does.
// Targets (issue 14): at least 100 MB/s (MB/s in wall time on an idle
// machine; MB/cpu-s, per CPU second, on a busy one), and a peak RSS of at
// most 64 MiB, reported as peak-RSS-MiB. The peak is the process's: run this benchmark
// alone (scripts/bench.sh does) for the figure to mean anything.
func BenchmarkDiagnoseStream500MB(b *testing.B) {
	const size = 500 << 20
	path := filepath.Join(b.TempDir(), "big.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	n := 0
	fixtures := loadFixtures(b)
	for n < size {
		for _, fx := range fixtures {
			m, _ := w.Write(fx.body)
			n += m
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fixtures = nil
	b.SetBytes(int64(n))
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r, err := DiagnoseReader(f, Facts{})
		f.Close()
		if err != nil || len(r.Runs) == 0 {
			b.Fatalf("%v, %d runs", err, len(r.Runs))
		}
	}
	b.StopTimer()
	// On a shared machine wall time says more about the neighbours than
	// about diagnose: MB per CPU second is the figure that does not.
	b.ReportMetric(float64(n)*float64(b.N)/1e6/(cpuTime(b)-cpu0).Seconds(), "MB/cpu-s")
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB") // Maxrss is in KiB on Linux
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
