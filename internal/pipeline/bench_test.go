package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/testutil"
)

func rusage(tb testing.TB, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBackup16M is a whole backup of a 16 MiB emulated chip (two
// reads plus --flash-name/--flash-size, sha256 of both reads, fsyncs,
// manifest, events) with the real flashrom: libreflash's CPU against the
// flasher's (its children's, as the kernel accounts them).
func BenchmarkBackup16M(b *testing.B) {
	f := flashrom(b)
	dir := b.TempDir()
	img, _ := testutil.ChipImage(b, dir, 16<<20)
	var self, children time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s0, c0 := rusage(b, syscall.RUSAGE_SELF), rusage(b, syscall.RUSAGE_CHILDREN)
		_, err := Backup(context.Background(), BackupOptions{
			Programmer: "dummy:emulate=W25Q128FV,image=" + img, Flasher: f,
			StateDir: filepath.Join(dir, fmt.Sprintf("state%d", i)), Root: dir,
		})
		self += rusage(b, syscall.RUSAGE_SELF) - s0
		children += rusage(b, syscall.RUSAGE_CHILDREN) - c0
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "wrapper-µs/op")
	b.ReportMetric(float64(children.Microseconds())/float64(b.N), "flasher-µs/op")
	b.ReportMetric(100*float64(self)/float64(children), "wrapper-%")
}
