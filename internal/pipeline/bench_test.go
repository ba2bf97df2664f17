package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
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

// bareRun runs the flasher as a user would type it, and returns its wall
// time in seconds.
func bareRun(b *testing.B, args ...string) float64 {
	t0 := time.Now()
	out, err := exec.Command(testFlashrom, args...).CombinedOutput()
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", testFlashrom, args, err, out)
	}
	return time.Since(t0).Seconds()
}

func sameBytes(b *testing.B, x, y string) bool {
	p, err := os.ReadFile(x)
	if err != nil {
		b.Fatal(err)
	}
	q, err := os.ReadFile(y)
	if err != nil {
		b.Fatal(err)
	}
	return bytes.Equal(p, q)
}

// BenchmarkBackupVsBare16M and BenchmarkInstallVsBare16M run libreflash
// and, side by side in the same iteration, the same flasher commands bare
// (probe, two reads; for install also the write with -n reusing the first
// read as --flash-contents and one verify read, compared), on a 16 MiB
// emulated chip (issue 17 item 7). Reported: chip-touching flasher runs
// per libreflash run (from argv), both wall times and their ratio (target
// ≤ 1.10).
func BenchmarkBackupVsBare16M(b *testing.B) {
	needFlashrom(b)
	dir := b.TempDir()
	img, _ := testutil.ChipImage(b, dir, 16<<20)
	p := "dummy:emulate=W25Q128FV,image=" + img
	f := flashrom(b)
	var bare, lf float64
	runs := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := bareRun(b, "-p", p, "--flash-name")
		t += bareRun(b, "-p", p, "-r", filepath.Join(dir, "r1"))
		t += bareRun(b, "-p", p, "-r", filepath.Join(dir, "r2"))
		if !sameBytes(b, filepath.Join(dir, "r1"), filepath.Join(dir, "r2")) {
			b.Fatal("bare reads differ")
		}
		bare += t
		t0 := time.Now()
		s, err := Backup(context.Background(), BackupOptions{Programmer: p, Flasher: f,
			StateDir: filepath.Join(dir, fmt.Sprintf("state%d", i)), Root: dir})
		if err != nil {
			b.Fatal(err)
		}
		lf += time.Since(t0).Seconds()
		runs += s.FlasherRuns
	}
	reportVsBare(b, runs, lf, bare)
}

func BenchmarkInstallVsBare16M(b *testing.B) {
	needFlashrom(b)
	dir := b.TempDir()
	rom := x200ROM(b, 16<<20)
	factory := FactoryImage(mustReadFile(b, rom))
	chip := filepath.Join(dir, "chip.bin")
	p := "dummy:emulate=W25Q128FV,image=" + chip
	env := fixture(b, "debian-thinkpad-legacy")
	var bare, lf float64
	runs := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := os.WriteFile(chip, factory, 0o600); err != nil {
			b.Fatal(err)
		}
		r1, r2, v := filepath.Join(dir, "r1"), filepath.Join(dir, "r2"), filepath.Join(dir, "v")
		t := bareRun(b, "-p", p, "--flash-name")
		t += bareRun(b, "-p", p, "-r", r1)
		t += bareRun(b, "-p", p, "-r", r2)
		if !sameBytes(b, r1, r2) {
			b.Fatal("bare reads differ")
		}
		t += bareRun(b, "-p", p, "-w", rom, "-n", "--flash-contents", r1)
		t += bareRun(b, "-p", p, "-r", v)
		if !sameBytes(b, v, rom) {
			b.Fatal("bare write did not verify")
		}
		bare += t

		if err := os.WriteFile(chip, factory, 0o600); err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		s, err := Install(context.Background(), InstallOptions{ROM: rom, Programmer: p, FlasherPath: testFlashrom,
			StateDir: filepath.Join(dir, fmt.Sprintf("state%d", i)), Env: env})
		if err != nil {
			b.Fatal(err)
		}
		lf += time.Since(t0).Seconds()
		runs += s.FlasherRuns
	}
	reportVsBare(b, runs, lf, bare)
}

// reportVsBare reports a side-by-side benchmark: chip-touching flasher
// runs, libreflash's and the bare commands' seconds per op, and their ratio.
func reportVsBare(b *testing.B, runs int, lf, bare float64) {
	b.StopTimer()
	b.ReportMetric(float64(runs)/float64(b.N), "chip-runs/op")
	b.ReportMetric(lf/float64(b.N), "libreflash-s/op")
	b.ReportMetric(bare/float64(b.N), "bare-s/op")
	b.ReportMetric(lf/bare, "ratio")
}

func mustReadFile(b *testing.B, p string) []byte {
	d, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	return d
}
