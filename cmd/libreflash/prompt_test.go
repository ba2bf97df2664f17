package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"libreflash/internal/exitcode"
)

// openPTY opens a pseudo-terminal pair: the test writes and reads on
// master, the program under test gets the terminal as its stdin.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatalf("unlockpt: %v", e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// lockedBuffer collects a child's output while the test polls it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// signalTestSetup is what the signal tests share: the libreflash test
// command, a temporary directory and an X200 image in it.
func signalTestSetup(t *testing.T) (bin, dir, rom string) {
	t.Helper()
	if _, err := os.Stat("/usr/sbin/flashrom"); err != nil {
		t.Skip("flashrom not installed at /usr/sbin/flashrom (scripts/test.sh installs it)")
	}
	bin, err := exec.LookPath("libreflash")
	if err != nil {
		t.Skip("libreflash test command not on PATH")
	}
	dir = t.TempDir()
	rom = filepath.Join(dir, "x200.rom")
	mkrom(t, "rom", rom, "4194304", "CONFIG_VENDOR_LENOVO=y", "CONFIG_BOARD_LENOVO_X200=y",
		`CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"`)
	return bin, dir, rom
}

// Issue 13: a ^C (or SIGTERM, SIGHUP) at a [y/N] question ends the run at
// once, exit 130, nothing written; it used to wait for a line that the user
// would never type.
func TestSignalAtPromptExitsAtOnce(t *testing.T) {
	bin, dir, rom := signalTestSetup(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			_, tty := openPTY(t)
			cmd := exec.Command(bin, "install", rom, "--rehearse", "--flasher", "/usr/sbin/flashrom",
				"--state-dir", filepath.Join(dir, "state-"+strconv.Itoa(int(sig))))
			cmd.Env = append(os.Environ(), "LIBREFLASH_TEST_MACHINE=debian-thinkpad-legacy")
			cmd.Stdin = tty
			var stdout, stderr lockedBuffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			deadline := time.After(2 * time.Minute)
			for !strings.Contains(stderr.String(), "[y/N]") {
				select {
				case err := <-done:
					t.Fatalf("ended before asking (%v):\n%s\n%s", err, stdout.String(), stderr.String())
				case <-deadline:
					_ = cmd.Process.Kill()
					t.Fatalf("never asked:\n%s", stderr.String())
				case <-time.After(20 * time.Millisecond):
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("still waiting for an answer 10 s after %v:\n%s", sig, stderr.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != exitcode.Cancelled {
				t.Errorf("exit %d, want %d\n%s\n%s", code, exitcode.Cancelled, stdout.String(), stderr.String())
			}
			if matches, _ := filepath.Glob(filepath.Join(dir, "state-"+strconv.Itoa(int(sig)), "rehearsals", "backups", "*")); len(matches) > 0 {
				t.Errorf("a backup was kept after the question was cancelled: %v", matches)
			}
		})
	}
}

// The prompter itself: answers, and an end of input or a cancelled context
// is a cancellation (exit 130), not a "no" that leaves the user waiting.
func TestPrompter(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
		err  error
	}{
		{"y\n", true, nil},
		{"YES\n", true, nil},
		{"\n", false, nil},
		{"n\n", false, nil},
		{"yes please\n", false, nil},
		{"", false, errPromptCancelled},
	} {
		var out bytes.Buffer
		a := &app{stdin: strings.NewReader(tc.in), stderr: &out}
		got, err := a.newPrompter(nil).Confirm(context.Background(), "Go on?")
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%q: %v, %v; want %v, %v", tc.in, got, err, tc.want, tc.err)
		}
		if !strings.HasPrefix(out.String(), "Go on? [y/N] ") {
			t.Errorf("%q: question %q", tc.in, out.String())
		}
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	a := &app{stdin: pr, stderr: &bytes.Buffer{}}
	if ok, err := a.newPrompter(nil).Confirm(ctx, "Go on?"); ok || !errors.Is(err, errPromptCancelled) {
		t.Errorf("cancelled while waiting: %v, %v", ok, err)
	}
}

// Choose (an archive's images): a number picks, anything else and the end
// of input are no choice, and the options are listed numbered.
func TestPrompterChoose(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		err  bool
	}{
		{"2\n", 1, false},
		{" 1 \n", 0, false},
		{"3\n", -1, true},
		{"grub\n", -1, true},
		{"\n", -1, true},
		{"", -1, true},
	} {
		var out bytes.Buffer
		p := &prompter{in: bufio.NewReader(strings.NewReader(tc.in)), out: &out}
		got, err := p.Choose(context.Background(), "which one?", []string{"grub_x.rom (grub)", "seagrub_x.rom (seagrub)"})
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%q: got %d, %v", tc.in, got, err)
		}
		if !strings.Contains(out.String(), "which one?\n  1) grub_x.rom (grub)\n  2) seagrub_x.rom (seagrub)\nnumber [1-2]: ") {
			t.Errorf("%q: prompt %q", tc.in, out.String())
		}
	}
}
