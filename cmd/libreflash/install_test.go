package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"libreflash/internal/statedir"
)

// TestInstallScripts runs testdata/install/*.txtar: libreflash install with
// the real flashrom and its dummy programmer on the X200 fixture machine
// (never -p internal). $REPO is the repository (for scripts/mkrom.sh).
func TestInstallScripts(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/flashrom"); err != nil {
		t.Skip("flashrom not installed at /usr/sbin/flashrom (scripts/test.sh installs it)")
	}
	locks := map[*testscript.TestScript]func(){}
	cmds := map[string]func(*testscript.TestScript, bool, []string){
		"exits": cmdExits,
		// holdlock DIR: this test process takes DIR's run lock, as a
		// libreflash run in progress would; releaselock gives it back.
		"holdlock": func(ts *testscript.TestScript, neg bool, args []string) {
			unlock, err := statedir.Lock(ts.MkAbs(args[0]))
			ts.Check(err)
			locks[ts] = unlock
		},
		"releaselock": func(ts *testscript.TestScript, neg bool, args []string) {
			if u := locks[ts]; u != nil {
				u()
				delete(locks, ts)
			}
		},
	}
	for k, v := range archiveCmds {
		cmds[k] = v
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/install",
		RequireExplicitExec: true,
		Cmds:                cmds,
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, nil
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("REPO", repoDir())
			e.Setenv("FLASHERS", flashersDir(t))
			e.Setenv("LIBREFLASH_TEST_MACHINE", "debian-thinkpad-legacy")
			e.Setenv("LIBREFLASH_STATE_DIR", filepath.Join(e.WorkDir, "state"))
			return nil
		},
	})
}

func repoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// mkrom runs scripts/mkrom.sh.
func mkrom(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{filepath.Join(repoDir(), "scripts", "mkrom.sh")}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkrom.sh %v: %v\n%s", args, err, b)
	}
}

// startSlowInstall starts libreflash install (the test binary as
// libreflash) with --json onto an emulated 4 MiB chip, slow when asked,
// seeded (when asked) to differ from the ROM in its first 512 KiB only, so
// that the write takes a few seconds. It returns the command, its JSON
// lines as they come, and the paths.
type slowRun struct {
	cmd            *exec.Cmd
	lines          chan map[string]any
	dir, chip, rom string
	stderr         *strings.Builder
}

func startSlowInstall(t *testing.T, dir string, seed, slow bool) *slowRun {
	t.Helper()
	bin, err := exec.LookPath("libreflash")
	if err != nil {
		t.Skip("libreflash test command not on PATH")
	}
	rom := filepath.Join(dir, "x200.rom")
	chip := filepath.Join(dir, "chip.bin")
	if _, err := os.Stat(rom); err != nil {
		mkrom(t, "rom", rom, "4194304", "CONFIG_VENDOR_LENOVO=y", "CONFIG_BOARD_LENOVO_X200=y",
			`CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"`)
	}
	if seed {
		b, err := os.ReadFile(rom)
		if err != nil {
			t.Fatal(err)
		}
		// The chip differs from the ROM in its first 512 KiB only: with
		// the backup as --flash-contents, only that much is written.
		for i := 0; i < 512<<10; i++ {
			b[i] ^= 0x5a
		}
		if err := os.WriteFile(chip, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// 1 µs per byte transferred: a 4 MiB read takes about 4 s, the write
	// about as long.
	prog := "dummy:emulate=SST25VF032B,image=" + chip
	if slow {
		prog += ",freq=5MHz"
	}
	cmd := exec.Command(bin, "install", rom, "--programmer", prog, "--yes", "--json",
		"--state-dir", filepath.Join(dir, "state"))
	cmd.Env = append(os.Environ(), "LIBREFLASH_TEST_MACHINE=debian-thinkpad-legacy")
	// Its own process group, as a shell gives a job: signals sent to it
	// here reach libreflash only, as a ^C would.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
	}()
	return &slowRun{cmd: cmd, lines: lines, dir: dir, chip: chip, rom: rom, stderr: &errb}
}

// waitFor reads events until one matches, and returns it.
func (r *slowRun) waitFor(t *testing.T, match func(map[string]any) bool) map[string]any {
	t.Helper()
	timeout := time.After(3 * time.Minute)
	for {
		select {
		case m, ok := <-r.lines:
			if !ok {
				t.Fatalf("libreflash ended before the event; stderr:\n%s", r.stderr)
			}
			if match(m) {
				return m
			}
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

func isStage(stage, status string) func(map[string]any) bool {
	return func(m map[string]any) bool {
		return m["type"] == "stage" && m["stage"] == stage && m["status"] == status
	}
}

func isType(typ string) func(map[string]any) bool {
	return func(m map[string]any) bool { return m["type"] == typ }
}

func sameBytes(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// SIGINT, SIGTERM and SIGHUP during the write do not stop the flasher: the
// write completes and verifies, and the run ends ok, saying what arrived.
func TestInstallSignalsDuringWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow emulated chip: half a minute")
	}
	r := startSlowInstall(t, t.TempDir(), true, true)
	r.waitFor(t, isStage("write", "start"))
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		time.Sleep(200 * time.Millisecond)
		if err := r.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
	}
	var warned int
	sum := r.waitFor(t, func(m map[string]any) bool {
		if m["type"] == "signal" && m["stage"] == "write" {
			warned++
		}
		return m["type"] == "summary"
	})
	err := r.cmd.Wait()
	if sum["result"] != "ok" || sum["exit"] != float64(0) || err != nil {
		t.Fatalf("summary %v, exit %v; stderr:\n%s", sum, err, r.stderr)
	}
	if warned != 3 {
		t.Errorf("%d signal warnings, want 3", warned)
	}
	if !sameBytes(t, r.chip, r.rom) {
		t.Error("the chip does not hold the ROM")
	}
}

// A signal before the write stops the run with nothing written: exit 130.
func TestInstallSignalBeforeWrite(t *testing.T) {
	r := startSlowInstall(t, t.TempDir(), true, true)
	before, _ := os.ReadFile(r.chip)
	r.waitFor(t, isStage("backup", "start"))
	time.Sleep(300 * time.Millisecond)
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sum := r.waitFor(t, isType("summary"))
	r.cmd.Wait()
	if sum["result"] != "cancelled" || sum["exit"] != float64(130) || r.cmd.ProcessState.ExitCode() != 130 {
		t.Fatalf("summary %v, exit %d", sum, r.cmd.ProcessState.ExitCode())
	}
	after, _ := os.ReadFile(r.chip)
	if string(before) != string(after) {
		t.Error("the chip changed")
	}
}

// kill -9 of libreflash mid-write: the flasher, in its own process group,
// finishes the write; the lock died with libreflash, so a new run starts,
// reports the interrupted one from its run directory, and completes.
func TestInstallKilledMidWriteThenRunAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("a slow emulated chip: half a minute")
	}
	dir := t.TempDir()
	r := startSlowInstall(t, dir, true, true)
	r.waitFor(t, isStage("write", "start"))
	time.Sleep(500 * time.Millisecond)
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	r.cmd.Wait()
	// The orphaned flasher goes on writing the emulated chip; wait for it,
	// as a user would wait for the disk light, before the next run.
	waitNoProcessWith(t, r.chip)

	r2 := startSlowInstall(t, dir, false, false)
	var previous map[string]any
	sum := r2.waitFor(t, func(m map[string]any) bool {
		if m["type"] == "previous_run" {
			previous = m
		}
		return m["type"] == "summary"
	})
	r2.cmd.Wait()
	if sum["result"] != "ok" {
		t.Fatalf("second run: %v\n%s", sum, r2.stderr)
	}
	if previous == nil || previous["stage"] != "write" || previous["writing"] != true || previous["backup"] == nil {
		t.Errorf("report of the killed run: %v", previous)
	}
	if !sameBytes(t, r2.chip, r2.rom) {
		t.Error("the chip does not hold the ROM")
	}
}

// waitNoProcessWith waits until no process has arg on its command line.
func waitNoProcessWith(t *testing.T, arg string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		found := false
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err == nil && strings.Contains(string(b), arg) {
				found = true
				break
			}
		}
		if !found {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the flasher did not finish")
}

// The command to run again is the install as typed; the real command a
// rehearsal stands for drops the rehearsal's own options.
func TestRetryAndRealCommand(t *testing.T) {
	o := &installOptions{programmer: "internal", region: "bios", rehearse: true, rehearseFrom: "old backup.rom",
		forceBoard: true, keyring: "lb.gpg", romName: "grub_x230_12mb.rom", mac: "random", stateDir: "/tmp/lf"}
	if got, want := retryCommand(o, "libreboot-25.06_x230_12mb.tar.xz"),
		"libreflash install libreboot-25.06_x230_12mb.tar.xz --region bios --rehearse --rehearse-from 'old backup.rom' --force-board --keyring lb.gpg --rom grub_x230_12mb.rom --mac random --state-dir /tmp/lf"; got != want {
		t.Errorf("retry:\n got %s\nwant %s", got, want)
	}
	if got, want := realCommand(o, "lb.tar.xz"),
		"sudo libreflash install lb.tar.xz --region bios --force-board --keyring lb.gpg --rom grub_x230_12mb.rom --mac random"; got != want {
		t.Errorf("real:\n got %s\nwant %s", got, want)
	}
	o = &installOptions{programmer: "ch341a_spi", region: "auto", noVerifySignature: true, allowNonCoreboot: true, unlockTool: "/usr/local/sbin/dell_flash_unlock"}
	if got, want := retryCommand(o, "x.rom"),
		"sudo libreflash install x.rom --programmer ch341a_spi --unlock-tool /usr/local/sbin/dell_flash_unlock --no-verify-signature --allow-non-coreboot"; got != want {
		t.Errorf("retry:\n got %s\nwant %s", got, want)
	}
}
