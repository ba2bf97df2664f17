package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/testutil"
)

// Emulated chips (flashrom's dummy programmer) used by the tests.
const (
	sst4M   = "SST25VF032B" // 4 MiB, the smallest chip flashrom 1.3 matches unambiguously
	size4M  = 4 << 20
	w25q128 = "W25Q128FV" // 16 MiB
)

func systemFlasher(t testing.TB) *Flasher {
	t.Helper()
	if _, err := os.Stat(systemFlashrom); err != nil {
		t.Skipf("%s not installed (scripts/test.sh installs it): %v", systemFlashrom, err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: Find refuses nothing here, but the dummy tests mirror the real root-only use")
	}
	f, err := Find(context.Background(), FindOptions{Explicit: systemFlashrom})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// events collects parser events safely.
type events struct {
	mu sync.Mutex
	ev []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }
func (e *events) texts() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.ev {
		b.WriteString(ev.Text + "\n")
	}
	return b.String()
}
func (e *events) last() Event { e.mu.Lock(); defer e.mu.Unlock(); return e.ev[len(e.ev)-1] }

func TestRunReadEmulatedChip(t *testing.T) {
	f := systemFlasher(t)
	dir := t.TempDir()
	chip, want := testutil.ChipImage(t, dir, size4M)
	out := filepath.Join(dir, "read.rom")
	var log bytes.Buffer
	var ev events
	res, err := f.Run(context.Background(), Spec{
		Programmer: "dummy:emulate=" + sst4M + ",image=" + chip,
		Args:       []string{"-r", out},
		Log:        &log,
		OnEvent:    ev.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("read differs from the chip")
	}
	if res.ExitCode != 0 || res.Cancelled || res.Killed || res.Argv[1] != "-p" || res.Argv[0] != systemFlashrom {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(log.String(), "Reading flash... done.") || !strings.HasPrefix(log.String(), "flashrom unknown on ") {
		t.Errorf("log:\n%s", log.String())
	}
	if !strings.Contains(ev.texts(), "Reading flash... done.") {
		t.Errorf("events:\n%s", ev.texts())
	}
	if last := ev.last(); last.Kind != EvExit || last.ExitCode != 0 {
		t.Errorf("last event %+v, want exit 0", last)
	}
}

func TestRunFailureCarriesArgvAndStderr(t *testing.T) {
	f := systemFlasher(t)
	dir := t.TempDir()
	chip, _ := testutil.ChipImage(t, dir, size4M)
	out := filepath.Join(dir, "read.rom")
	res, err := f.Run(context.Background(), Spec{
		Programmer: "dummy:emulate=" + sst4M + ",image=" + chip + ",spi_blacklist=030b",
		Args:       []string{"-r", out},
	})
	var re *RunError
	if !errors.As(err, &re) {
		t.Fatalf("got %v, want *RunError", err)
	}
	if re.ExitCode != 1 || res.ExitCode != 1 {
		t.Errorf("exit %d/%d, want 1", re.ExitCode, res.ExitCode)
	}
	msg := err.Error()
	for _, want := range []string{systemFlashrom + " -p dummy:emulate=", "-r " + out, "exit status 1", "Read operation failed!"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

// TestProbe: one flasher run names the chip and gives its size; the chip
// line's size saves the --flash-size run.
func TestProbe(t *testing.T) {
	f := systemFlasher(t)
	var log bytes.Buffer
	p, err := f.Probe(context.Background(), "dummy:emulate="+w25q128, &log)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Chip; c.Vendor != "Winbond" || c.Name != "W25Q128.V" || c.SizeBytes != 16<<20 || c.Bus != "SPI" {
		t.Errorf("got %+v", c)
	}
	if len(p.Runs) != 1 || !slices.Contains(p.Runs[0], "--flash-name") {
		t.Errorf("runs %q, want one --flash-name run", p.Runs)
	}
	if !strings.Contains(p.Untested, "UNTESTED") || len(p.Locked) != 0 {
		t.Errorf("probe %+v", p)
	}
	if !strings.Contains(log.String(), `vendor="Winbond" name="W25Q128.V"`) {
		t.Errorf("log:\n%s", log.String())
	}
	// Several matching definitions: the flasher fails, so does Probe.
	if _, err := f.Probe(context.Background(), "dummy:emulate=MX25L6436", nil); err == nil {
		t.Error("MX25L6436 (several definitions match): no error")
	}
	// Without --flash-name: a bare run, its chip line alone.
	bare := *f
	bare.Caps.FlashName = false
	p, err = bare.Probe(context.Background(), "dummy:emulate="+w25q128, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := p.Chip; c.Vendor != "Winbond" || c.Name != "W25Q128.V" || c.SizeBytes != 16<<20 || len(p.Runs) != 1 || len(p.Runs[0]) != 3 {
		t.Errorf("bare probe %+v", p)
	}
}

func TestParseFlashNameSize(t *testing.T) {
	for _, name := range []string{"flash-name", "flash-size"} {
		b, err := os.ReadFile(filepath.Join(testutil.Flashers(t, "flashprog-p1.5-91-g79d5c66"), name+".stdout"))
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case "flash-name":
			v, n, ok := parseFlashName(string(b))
			if !ok || v != "Winbond" || n != "W25Q128.V" {
				t.Errorf("flash-name: %q %q %v", v, n, ok)
			}
		case "flash-size":
			if n, ok := parseFlashSize(string(b)); !ok || n != 16777216 {
				t.Errorf("flash-size: %d %v", n, ok)
			}
		}
	}
	if _, _, ok := parseFlashName("vendor=\"X\"\n"); ok {
		t.Error("accepted a line without name")
	}
	if _, ok := parseFlashSize("99999999999999999999999\n"); ok {
		t.Error("accepted an overflowing size")
	}
}

// A read stops at once on SIGINT or SIGTERM, and leaves no file.
func TestRunReadStopsOnSignal(t *testing.T) {
	f := systemFlasher(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			chip, _ := testutil.ChipImage(t, dir, size4M)
			out := filepath.Join(dir, "read.rom")
			var ev events
			started := make(chan struct{})
			var once sync.Once
			go func() {
				<-started
				time.Sleep(300 * time.Millisecond)
				_ = syscall.Kill(os.Getpid(), sig)
			}()
			t0 := time.Now()
			res, err := f.Run(context.Background(), Spec{
				// ≈9 s at 4 MHz: long enough to be interrupted.
				Programmer: "dummy:emulate=" + sst4M + ",image=" + chip + ",freq=4MHz",
				Args:       []string{"-r", out},
				OnEvent: func(e Event) {
					ev.add(e)
					once.Do(func() { close(started) })
				},
			})
			if !IsCancelled(err) {
				t.Fatalf("got %v, want cancelled", err)
			}
			if el := time.Since(t0); el > 5*time.Second {
				t.Errorf("took %v to stop", el)
			}
			if !res.Killed || !res.Cancelled || len(res.Signalled) != 1 || res.Signalled[0] != sig {
				t.Errorf("result %+v", res)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("read file left behind: %v", err)
			}
			var ce *CancelledError
			if errors.As(err, &ce); ce.ExitCode() != 130 {
				t.Errorf("exit code %d", ce.ExitCode())
			}
		})
	}
}

func TestRunReadStopsOnContext(t *testing.T) {
	f := systemFlasher(t)
	dir := t.TempDir()
	chip, _ := testutil.ChipImage(t, dir, size4M)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res, err := f.Run(ctx, Spec{
		Programmer: "dummy:emulate=" + sst4M + ",image=" + chip + ",freq=4MHz",
		Args:       []string{"-r", filepath.Join(dir, "read.rom")},
	})
	if !IsCancelled(err) || !res.Killed {
		t.Fatalf("got %v, %+v", err, res)
	}
	// Nothing is started once cancelled.
	if _, err := f.Run(ctx, Spec{Args: []string{"--help"}}); !IsCancelled(err) {
		t.Errorf("after cancel: %v", err)
	}
}

// While shielded, SIGINT/SIGTERM/SIGHUP to libreflash do not reach the
// flasher: the erase completes, and the result records the signals.
func TestRunShieldedEraseSurvivesSignals(t *testing.T) {
	f := systemFlasher(t)
	dir := t.TempDir()
	chip, _ := testutil.ChipImage(t, dir, 128<<10)
	var ev events
	var mu sync.Mutex
	var told []os.Signal
	started := make(chan struct{})
	var once sync.Once
	go func() {
		<-started
		for _, s := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
			time.Sleep(150 * time.Millisecond)
			_ = syscall.Kill(os.Getpid(), s)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := f.Run(ctx, Spec{
		// M25P10.RES, 128 KiB: at 1 MHz the erase takes ≈1.5 s.
		Programmer: "dummy:emulate=M25P10.RES,image=" + chip + ",freq=1MHz",
		Args:       []string{"-E"},
		Shield:     true,
		OnEvent: func(e Event) {
			ev.add(e)
			once.Do(func() { close(started) })
		},
		OnSignal: func(s os.Signal) {
			mu.Lock()
			told = append(told, s)
			mu.Unlock()
			cancel() // as the command's signal context would
		},
	})
	if err != nil {
		t.Fatalf("shielded erase: %v\n%s", err, ev.texts())
	}
	if res.Killed || !res.Cancelled || res.ExitCode != 0 || len(res.Signalled) != 3 {
		t.Errorf("result %+v", res)
	}
	mu.Lock()
	if len(told) != 3 {
		t.Errorf("OnSignal told %v", told)
	}
	mu.Unlock()
	b, err := os.ReadFile(chip)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, bytes.Repeat([]byte{0xff}, 128<<10)) {
		t.Error("chip not fully erased: the flasher was interrupted")
	}
	if !strings.Contains(ev.texts(), "Erase/write done.") {
		t.Errorf("output:\n%s", ev.texts())
	}
}

// The flasher runs in its own process group (so the terminal's ^C reaches
// libreflash only) and, when shielded, with SIGPIPE ignored (so that it
// finishes a write even if libreflash dies).
func TestRunProcessGroupAndSigpipe(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	sh := &Flasher{Path: "/bin/sh"}
	for _, shield := range []bool{false, true} {
		var out bytes.Buffer
		_, err := sh.Run(context.Background(), Spec{
			Args:   []string{"-c", "ps -o pgid= -p $$; grep SigIgn /proc/self/status"},
			Log:    &out,
			Shield: shield,
		})
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(out.String())
		if len(fields) < 3 {
			t.Fatalf("output %q", out.String())
		}
		if pg, _ := syscall.Getpgid(0); fields[0] == itoa(pg) {
			t.Errorf("flasher shares our process group %s", fields[0])
		}
		var mask uint64
		for _, c := range fields[2] {
			mask = mask<<4 | uint64(strings.IndexRune("0123456789abcdef", c))
		}
		pipeIgnored := mask&(1<<(uint(syscall.SIGPIPE)-1)) != 0
		if pipeIgnored != shield {
			t.Errorf("shield=%v: SIGPIPE ignored=%v", shield, pipeIgnored)
		}
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestQuoteArgv(t *testing.T) {
	got := QuoteArgv([]string{"/usr/sbin/flashrom", "-p", "dummy:emulate=W25Q128FV,image=a b.bin", "-r", "it's"})
	want := `/usr/sbin/flashrom -p 'dummy:emulate=W25Q128FV,image=a b.bin' -r 'it'\''s'`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	// what would drive the terminal shows as escapes
	got = QuoteArgv([]string{"-w", "evil\x1b]0;pwned\x07.rom", "\u202egnp.exe", "bad\xff", "tab\there", "x'y\x1b"})
	want = `-w $'evil\x1b]0;pwned\x07.rom' $'\xe2\x80\xaegnp.exe' $'bad\xff' $'tab\x09here' $'x\'y\x1b'`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
	if Sanitize(got) != got {
		t.Errorf("QuoteArgv output is not terminal-safe: %q", got)
	}
}

// After a shielded run, SIGPIPE is the runtime's again: later children do
// not inherit it ignored.
func TestSigpipeRestored(t *testing.T) {
	sh := &Flasher{Path: "/bin/sh"}
	for _, shield := range []bool{true, false} {
		var out bytes.Buffer
		if _, err := sh.Run(context.Background(), Spec{Args: []string{"-c", "grep SigIgn /proc/self/status"}, Log: &out, Shield: shield}); err != nil {
			t.Skip(err)
		}
		if !shield && !strings.Contains(out.String(), "0000000000000000") {
			t.Errorf("unshielded child after a shielded one: %q", out.String())
		}
	}
}
