package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chipRuns counts the flasher command lines in an invocation log that
// touch the chip (those with a programmer; --help and --version do not).
func chipRuns(t testing.TB, log string) (n int, lines []string) {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if touchesChip(strings.Fields(l)) {
			n++
			lines = append(lines, l)
		}
	}
	return n, lines
}

// Issue 17 item 7: a whole install with the real flashrom makes at most
// five flasher runs that touch the chip (probe, two reads, the write
// without the flasher's verify, libreflash's verify read), counted from the
// command lines the flasher was started with; the summary counts the same.
func TestInstallChipRunsFromArgv(t *testing.T) {
	needFlashrom(t)
	flasher, invocations := guardFlasher(t)
	factory := mkrom(t, "factory", 16<<20)
	rom := x200ROM(t, 16<<20)
	r := newRun(t, "W25Q128FV", rom, factory)
	r.opts.FlasherPath = flasher
	s, err := r.install(t)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFile(t, r.chip, rom) {
		t.Fatal("the chip does not hold the ROM")
	}
	n, lines := chipRuns(t, invocations)
	if n > 5 || n != s.FlasherRuns {
		t.Errorf("%d chip-touching flasher runs (summary says %d), want at most 5:\n%s", n, s.FlasherRuns, strings.Join(lines, "\n"))
	}
	var writes, verifies int
	for _, l := range lines {
		f := strings.Fields(l)
		for i, a := range f {
			switch {
			case a == "-w":
				writes++
				if !strings.Contains(l, " -n") || !strings.Contains(l, "--flash-contents "+s.Backup.Path) {
					t.Errorf("the write %q verifies by itself or reads the chip first", l)
				}
			case a == "-v" || a == "--verify":
				verifies++
			case a == "-r" && i+1 < len(f) && filepath.Base(f[i+1]) == "verify.rom":
				verifies--
			}
		}
	}
	if writes != 1 || verifies != -1 {
		t.Errorf("%d writes, %d flasher verifies (want 1, and libreflash's own verify read): %q", writes, verifies+1, lines)
	}
}

// Issue 13 item 3: the flasher inherits the locks libreflash holds (the
// state directory's and the chip's), so they stay held if libreflash is
// killed while it writes, and its pid is recorded in them while it runs.
func TestFlasherInheritsTheLocks(t *testing.T) {
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	out := t.TempDir()
	r.opts.FlasherPath = oddWrapper(t, `ls -l /proc/$$/fd > `+out+`/fds
		# libreflash records the pid once the flasher has started: wait for it
		for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			grep -q flasher `+r.opts.StateDir+`/lock && break
			sleep 0.1
		done
		cat `+r.opts.StateDir+`/lock > `+out+`/record; echo $$ > `+out+`/pid`)
	if _, err := r.install(t); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadFile(filepath.Join(out, "fds"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lock := range []string{"-> " + filepath.Join(r.opts.StateDir, "lock"), "/run/libreflash/chip-dummy-"} {
		if !strings.Contains(string(fds), lock) {
			t.Errorf("the flasher does not hold %s:\n%s", lock, fds)
		}
	}
	pid := strings.TrimSpace(string(mustRead(t, filepath.Join(out, "pid"))))
	if rec := string(mustRead(t, filepath.Join(out, "record"))); !strings.Contains(rec, "flasher "+pid+" ") {
		t.Errorf("the lock does not record the running flasher (pid %s):\n%s", pid, rec)
	}
	if rec := string(mustRead(t, filepath.Join(r.opts.StateDir, "lock"))); strings.Contains(rec, "flasher") {
		t.Errorf("the lock still names a flasher after the run:\n%s", rec)
	}
}
