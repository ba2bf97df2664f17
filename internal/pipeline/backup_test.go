package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"libreflash/internal/diagnose"
	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
	"libreflash/internal/testutil"
)

const systemFlashrom = "/usr/sbin/flashrom"

func flashrom(t testing.TB) *runner.Flasher {
	t.Helper()
	if _, err := os.Stat(systemFlashrom); err != nil {
		t.Skipf("%s not installed (scripts/test.sh installs it): %v", systemFlashrom, err)
	}
	f, err := runner.Find(context.Background(), runner.FindOptions{Explicit: systemFlashrom})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// dmiRoot is a host root with the DMI of a ThinkPad X200.
func dmiRoot(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	d := filepath.Join(root, "sys/class/dmi/id")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"sys_vendor": "LENOVO", "product_name": "7459GW8",
		"product_version": "ThinkPad X200", "bios_version": "6DET72WW (3.22 )"} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(v+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// recorder is a Sink keeping every event.
type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) sink(e Event) { r.mu.Lock(); r.ev = append(r.ev, e); r.mu.Unlock() }
func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.ev...)
}

func (r *recorder) last(t *testing.T) *Summary {
	t.Helper()
	ev := r.events()
	if len(ev) == 0 || ev[len(ev)-1].Type() != TypeSummary {
		t.Fatalf("last event is not a summary: %+v", ev)
	}
	return ev[len(ev)-1].Data.(*Summary)
}

func mode(t *testing.T, p string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestBackupEqualsChip(t *testing.T) {
	f := flashrom(t)
	dir := t.TempDir()
	img, want := testutil.ChipImage(t, dir, 16<<20)
	state := filepath.Join(dir, "state")
	var rec recorder
	now := time.Date(2026, 11, 23, 13, 30, 5, 0, time.UTC)
	prog := "dummy:emulate=W25Q128FV,image=" + img
	sum, err := Backup(context.Background(), BackupOptions{
		Programmer: prog, Flasher: f, StateDir: state, Root: dmiRoot(t),
		Sink: rec.sink, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	bdir := filepath.Join(state, "backups", "20261123T133005Z-7459GW8")
	if sum.Backup == nil || sum.Backup.Path != filepath.Join(bdir, "backup.rom") {
		t.Fatalf("summary %+v", sum)
	}
	got, err := os.ReadFile(sum.Backup.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("backup.rom differs from the chip")
	}
	h := sha256.Sum256(want)
	wantSum := hex.EncodeToString(h[:])
	if sum.Backup.SHA256 != wantSum || sum.ChipReads != 2 || sum.Result != ResultOK || sum.Exit != 0 {
		t.Errorf("summary %+v", sum)
	}
	if sum.Chip == nil || *sum.Chip != (ChipRef{Vendor: "Winbond", Name: "W25Q128.V", Size: 16 << 20}) {
		t.Errorf("chip %+v", sum.Chip)
	}

	// Modes: 0700 directories, 0600 files; nothing else in the directory.
	for _, d := range []string{state, filepath.Join(state, "backups"), bdir} {
		if m := mode(t, d); m != 0o700 {
			t.Errorf("%s: mode %o", d, m)
		}
	}
	ents, err := os.ReadDir(bdir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if m := mode(t, filepath.Join(bdir, e.Name())); m != 0o600 {
			t.Errorf("%s: mode %o", e.Name(), m)
		}
	}
	if strings.Join(names, " ") != "backup.rom flasher.log manifest.json read-2.rom" {
		t.Errorf("backup directory holds %v", names)
	}

	// The manifest.
	var m Manifest
	data, err := os.ReadFile(filepath.Join(bdir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if !m.Verified || m.SHA256 != wantSum || m.Size != 16<<20 || m.File != "backup.rom" ||
		m.Chip.Vendor != "Winbond" || m.Chip.Name != "W25Q128.V" ||
		m.Flasher != (FlasherRef{Path: systemFlashrom, Kind: "flashrom", Version: "unknown"}) ||
		m.Programmer != prog || m.Board != "7459GW8" || !m.Created.Equal(now) ||
		m.DMI.SysVendor != "LENOVO" || m.DMI.ProductVersion != "ThinkPad X200" || m.DMI.BIOSVersion != "6DET72WW (3.22 )" {
		t.Errorf("manifest:\n%s", data)
	}
	if len(m.Reads) != 2 {
		t.Fatalf("reads: %+v", m.Reads)
	}
	for i, r := range m.Reads {
		if r.SHA256 != wantSum || r.Argv[0] != systemFlashrom || r.Argv[1] != "-p" || r.Argv[2] != prog || r.Argv[3] != "-r" ||
			!strings.HasPrefix(r.Command, systemFlashrom+" -p ") {
			t.Errorf("read %d: %+v", i+1, r)
		}
	}

	// The flasher log beside it holds both reads; the run keeps the events.
	lg, _ := os.ReadFile(filepath.Join(bdir, "flasher.log"))
	if n := strings.Count(string(lg), "Reading flash... done."); n != 2 {
		t.Errorf("flasher.log has %d reads:\n%s", n, lg)
	}
	evf, err := os.ReadFile(sum.Events)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(evf)), "\n")
	if len(lines) != len(rec.events()) {
		t.Errorf("events.jsonl has %d events, the sink got %d", len(lines), len(rec.events()))
	}
	if !strings.Contains(lines[len(lines)-1], `"type":"summary","time":`) || !strings.Contains(lines[len(lines)-1], `"chip_reads":2`) {
		t.Errorf("last line: %s", lines[len(lines)-1])
	}

	// Stages in order, and the reads.
	var seq []string
	for _, e := range rec.events() {
		switch {
		case isStage(e) && e.Data.(*Stage).Status != StatusStart:
			seq = append(seq, e.Data.(*Stage).Stage+":"+e.Data.(*Stage).Status)
		case isProgress(e) && e.Data.(*Progress).Status != "":
			seq = append(seq, string(e.Data.(*Progress).Op)+":"+e.Data.(*Progress).Status)
		}
	}
	if s := strings.Join(seq, " "); s != "check:ok lock:ok probe:start probe:ok plan:ok read:start read:ok read:start read:ok backup:ok" {
		t.Errorf("sequence %s", s)
	}
}

func TestBackupNeverOverwrites(t *testing.T) {
	f := flashrom(t)
	dir := t.TempDir()
	img, _ := testutil.ChipImage(t, dir, 4<<20)
	state := filepath.Join(dir, "state")
	now := func() time.Time { return time.Date(2026, 11, 23, 13, 30, 5, 0, time.UTC) }
	opts := BackupOptions{Programmer: "dummy:emulate=SST25VF032B,image=" + img, Flasher: f,
		StateDir: state, Root: dmiRoot(t), Now: now}
	first, err := Backup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(first.Backup.Dir, "manifest.json"))
	// The chip changes; the same second; a new directory all the same.
	testutil.ChipImage(t, dir, 4<<20)
	second, err := Backup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if second.Backup.Dir != first.Backup.Dir+"-2" {
		t.Errorf("second backup in %s, first in %s", second.Backup.Dir, first.Backup.Dir)
	}
	if first.Backup.SHA256 == second.Backup.SHA256 {
		t.Error("second backup has the first one's contents")
	}
	after, _ := os.ReadFile(filepath.Join(first.Backup.Dir, "manifest.json"))
	if !bytes.Equal(before, after) {
		t.Error("first manifest changed")
	}
	if second.Events == first.Events {
		t.Error("both runs share an events file")
	}
}

// A flasher whose second read differs (a wrapper that alters it) stops the
// backup, and both reads are kept.
func TestBackupReadsDiffer(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the wrapper flasher must be root-owned to pass the ownership check")
	}
	flashrom(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(bin, "flashrom")
	script := `#!/bin/sh
` + systemFlashrom + ` "$@" || exit $?
out=
prev=
for a; do [ "$prev" = "-r" ] && out=$a; prev=$a; done
if [ -n "$out" ]; then
	n=$(cat ` + bin + `/count 2>/dev/null || echo 0)
	n=$((n+1))
	echo $n > ` + bin + `/count
	[ $n -ge 2 ] && printf U | dd of="$out" bs=1 seek=4096 conv=notrunc 2>/dev/null
fi
exit 0
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := runner.Find(context.Background(), runner.FindOptions{Explicit: wrapper})
	if err != nil {
		t.Fatal(err)
	}
	img, b := testutil.ChipImage(t, dir, 4<<20)
	b[4096] = 0
	if err := os.WriteFile(img, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	state := filepath.Join(dir, "state")
	sum, err := Backup(context.Background(), BackupOptions{Programmer: "dummy:emulate=SST25VF032B,image=" + img,
		Flasher: f, StateDir: state, Root: dmiRoot(t), Sink: rec.sink})
	var c exitcode.Coder
	if !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked || !strings.Contains(err.Error(), "the two reads of the chip differ") {
		t.Fatalf("got %v", err)
	}
	if s := rec.last(t); s.Result != ResultBlocked || s.Exit != 3 || s.Backup != nil || s.ChipReads != 2 ||
		!strings.Contains(s.Hint, "both reads are kept in") {
		t.Errorf("summary %+v", s)
	}
	_ = sum
	dirs, _ := filepath.Glob(filepath.Join(state, "backups", "*"))
	if len(dirs) != 1 {
		t.Fatalf("backup dirs: %v", dirs)
	}
	ents, _ := os.ReadDir(dirs[0])
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "manifest.json read-1.rom read-2.rom" {
		t.Errorf("kept %v", names)
	}
	r1, _ := os.ReadFile(filepath.Join(dirs[0], "read-1.rom"))
	r2, _ := os.ReadFile(filepath.Join(dirs[0], "read-2.rom"))
	if !bytes.Equal(r1, b) || bytes.Equal(r2, b) || r2[4096] != 'U' {
		t.Error("reads kept are not the two reads")
	}
	var m Manifest
	data, _ := os.ReadFile(filepath.Join(dirs[0], "manifest.json"))
	if err := json.Unmarshal(data, &m); err != nil || m.Verified || m.File != "" || len(m.Reads) != 2 ||
		m.Reads[0].File != "read-1.rom" || m.Reads[0].SHA256 == m.Reads[1].SHA256 {
		t.Errorf("manifest (%v):\n%s", err, data)
	}
}

// A slow emulated chip: the read reports its elapsed time over time, and a
// signal stops it at once, keeping nothing.
func TestBackupSignalDuringRead(t *testing.T) {
	f := flashrom(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			img, _ := testutil.ChipImage(t, dir, 4<<20)
			state := filepath.Join(dir, "state")
			// As the command does: signals cancel the context.
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var rec recorder
			var once sync.Once
			ticks := 0
			sink := func(e Event) {
				rec.sink(e)
				if p, ok := e.Data.(*Progress); ok && p.Status == "" {
					if ticks++; ticks == 5 {
						once.Do(func() { _ = syscall.Kill(os.Getpid(), sig) })
					}
				}
			}
			t0 := time.Now()
			_, err := Backup(ctx, BackupOptions{
				// ≈9 s per read at 4 MHz.
				Programmer: "dummy:emulate=SST25VF032B,freq=4MHz,image=" + img,
				Flasher:    f, StateDir: state, Root: dmiRoot(t), Sink: sink, Tick: 100 * time.Millisecond,
			})
			var c exitcode.Coder
			if !errors.As(err, &c) || c.ExitCode() != exitcode.Cancelled {
				t.Fatalf("got %v, want cancelled", err)
			}
			if el := time.Since(t0); el > 6*time.Second {
				t.Errorf("took %v", el)
			}
			if s := rec.last(t); s.Result != ResultCancelled || s.Exit != 130 || s.Backup != nil {
				t.Errorf("summary %+v", s)
			}
			// Progress over time: elapsed grows, no percentage is invented.
			var prev float64
			var phase string
			n := 0
			for _, e := range rec.events() {
				p, ok := e.Data.(*Progress)
				if ok && (p.Status == StatusStart || fmt.Sprint(p.Stage, p.Op, p.Pass) != phase) {
					// a new operation or phase: its own clock (docs/design.md)
					prev, phase = 0, fmt.Sprint(p.Stage, p.Op, p.Pass)
				}
				if !ok || p.Status != "" {
					continue
				}
				if p.Percent != nil {
					t.Errorf("flashrom 1.3 gives no percentage, got %d", *p.Percent)
				}
				if p.Elapsed <= prev {
					t.Errorf("elapsed went from %v to %v", prev, p.Elapsed)
				}
				prev = p.Elapsed
				n++
			}
			if n < 5 {
				t.Errorf("%d progress events", n)
			}
			// Nothing left in backups/, the log kept in runs/.
			if ents, _ := os.ReadDir(filepath.Join(state, "backups")); len(ents) != 0 {
				t.Errorf("backups/ holds %v", ents)
			}
			logs, _ := filepath.Glob(filepath.Join(state, "runs", "*", "flasher.log"))
			if len(logs) != 1 {
				t.Errorf("run logs: %v", logs)
			}
		})
	}
}

func TestBackupBlockedByChecks(t *testing.T) {
	f := flashrom(t)
	state := filepath.Join(t.TempDir(), "state")
	var rec recorder
	_, err := Backup(context.Background(), BackupOptions{Programmer: "internal", Flasher: f, StateDir: state,
		Sink: rec.sink,
		Check: func(context.Context, string, *runner.Flasher) ([]Check, error) {
			return []Check{{ID: "power", Status: "warn", Summary: "on battery"},
				{ID: "devmem", Status: "fail", Summary: "/dev/mem is restricted", Fix: "boot with iomem=relaxed", Blocks: true}}, nil
		}})
	var h exitcode.Hinter
	if !errors.As(err, &h) || strings.Contains(h.Hint(), "iomem=relaxed") || !strings.Contains(err.Error(), "check(s) devmem;") {
		t.Fatalf("got %v (hint %q): the fix is the check event's, said once", err, h.Hint())
	}
	var checks []string
	for _, e := range rec.events() {
		if c, ok := e.Data.(*Check); ok {
			checks = append(checks, fmt.Sprintf("%s:%s:%v:%s", c.ID, c.Status, c.Blocks, c.Fix))
		}
	}
	if got := strings.Join(checks, " "); got != "power:warn:false: devmem:fail:true:boot with iomem=relaxed" {
		t.Errorf("check events %q", got)
	}
	if s := rec.last(t); s.Exit != exitcode.Blocked || s.Result != ResultBlocked {
		t.Errorf("summary %+v", s)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state directory written before the checks passed: %v", err)
	}
}

func TestBackupReadFailureKeepsNothing(t *testing.T) {
	f := flashrom(t)
	dir := t.TempDir()
	img, _ := testutil.ChipImage(t, dir, 4<<20)
	state := filepath.Join(dir, "state")
	var rec recorder
	diagnosed := false
	_, err := Backup(context.Background(), BackupOptions{
		Programmer: "dummy:emulate=SST25VF032B,spi_blacklist=030b,image=" + img, Flasher: f, StateDir: state,
		Sink: rec.sink,
		Diagnose: func(log []byte, _ int) []diagnose.Finding {
			diagnosed = bytes.Contains(log, []byte("Read operation failed!"))
			return []diagnose.Finding{{ID: "unknown", Severity: "fatal", Candidate: true, Basis: "log", Count: 2, Check: "look"}}
		},
	})
	var c exitcode.Coder
	if !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked || !strings.Contains(err.Error(), "read 1 of 2 failed") {
		t.Fatalf("got %v", err)
	}
	if !diagnosed {
		t.Error("the diagnoser did not get the failed log")
	}
	found := false
	for _, e := range rec.events() {
		// Whole: candidate, basis, count and check survive.
		f, ok := e.Data.(*Finding)
		found = found || ok && f.ID == "unknown" && f.Candidate && f.Basis == "log" && f.Count == 2 && f.Check == "look"
	}
	if !found {
		t.Error("no finding event")
	}
	if ents, _ := os.ReadDir(filepath.Join(state, "backups")); len(ents) != 0 {
		t.Errorf("backups/ holds %v", ents)
	}
	if s := rec.last(t); !strings.Contains(s.Hint, "libreflash diagnose "+s.Log) {
		t.Errorf("hint %q", s.Hint)
	}
}

func TestBackupLocked(t *testing.T) {
	f := flashrom(t)
	state := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	unlock, err := statedir.Lock(state)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = Backup(context.Background(), BackupOptions{Programmer: "dummy:emulate=SST25VF032B", Flasher: f, StateDir: state})
	var c exitcode.Coder
	if !errors.As(err, &c) || c.ExitCode() != exitcode.Blocked || !strings.Contains(err.Error(), "another libreflash run") {
		t.Fatalf("got %v", err)
	}
}

func TestBoard(t *testing.T) {
	tests := []struct {
		d    DMI
		want string
	}{
		{DMI{ProductName: "7459GW8"}, "7459GW8"},
		{DMI{ProductName: "Latitude E6400"}, "Latitude-E6400"},
		{DMI{ProductName: "  HP EliteBook 8560p / ../x "}, "HP-EliteBook-8560p-x"},
		{DMI{ProductName: "", BoardName: "X230"}, "X230"},
		{DMI{ProductName: "///"}, "unknown"},
		{DMI{}, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.d.Board(); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.d.ProductName, got, tt.want)
		}
	}
}

// With flashprog, backup passes --progress and its real percentages (as
// the recorded transcript prints them) reach the event stream. The fake
// flashprog replays the transcripts and copies the chip file.
func TestBackupFlashprogProgress(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the fake flasher must be root-owned to pass the ownership check")
	}
	tr := testutil.Flashers(t, "flashprog-p1.5-91-g79d5c66")
	dir := t.TempDir()
	img, want := testutil.ChipImage(t, dir, 16<<20)
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	help, _ := filepath.Abs(filepath.Join("..", "runner", "testdata", "help", "flashprog-p1.5.txt"))
	script := `#!/bin/sh
out= prev= progress=
for a; do
	[ "$prev" = "-r" ] && out=$a
	[ "$a" = "--progress" ] && progress=1
	prev=$a
done
case "$*" in
*--help*) cat '` + help + `' ;;
*--flash-name*) cat '` + tr + `/flash-name.stdout' ;;
*--flash-size*) cat '` + tr + `/flash-size.stdout' ;;
*-r*)
	[ -n "$progress" ] || { echo "no --progress" >&2; exit 9; }
	cat '` + tr + `/read-progress-ok.stdout'
	cp '` + img + `' "$out" ;;
*) exit 1 ;;
esac
`
	wrapper := filepath.Join(bin, "flashprog")
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := runner.Find(context.Background(), runner.FindOptions{Explicit: wrapper})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != "flashprog" || !f.Caps.Progress {
		t.Fatalf("fake flasher: %+v", f)
	}
	var rec recorder
	sum, err := Backup(context.Background(), BackupOptions{Programmer: "dummy:emulate=W25Q128FV", Flasher: f,
		StateDir: filepath.Join(dir, "state"), Root: dmiRoot(t), Sink: rec.sink})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(sum.Backup.Path)
	if !bytes.Equal(got, want) {
		t.Error("backup differs from the chip")
	}
	if m, _ := os.ReadFile(filepath.Join(sum.Backup.Dir, "manifest.json")); !bytes.Contains(m, []byte(`"--progress"`)) {
		t.Error("manifest argv lacks --progress")
	}
	// Per read: percentages rising to 100, each read on its own.
	for pass := 1; pass <= 2; pass++ {
		last, n := -1, 0
		for _, e := range rec.events() {
			p, ok := e.Data.(*Progress)
			if !ok || p.Pass != pass || p.Percent == nil || p.Status != "" {
				continue
			}
			if *p.Percent < last {
				t.Errorf("read %d: percent went from %d to %d", pass, last, *p.Percent)
			}
			last = *p.Percent
			n++
		}
		if last != 100 || n < 50 {
			t.Errorf("read %d: %d percentages, last %d", pass, n, last)
		}
	}
}

func isStage(e Event) bool    { _, ok := e.Data.(*Stage); return ok }
func isProgress(e Event) bool { _, ok := e.Data.(*Progress); return ok }

// A flasher run that leaves processes behind (here a wrapper script around
// the real flashrom) is told as a flasher_strays event after its
// progress ends: read 1 leaves one in its process group, which is killed;
// read 2 one that left the group and holds its output, which is waited for
// and left running. The backup itself is not changed by them.
func TestBackupStrays(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the wrapper must be root-owned to pass the ownership check")
	}
	flashrom(t)
	if _, err := os.Stat("/usr/bin/setsid"); err != nil {
		t.Skip("no setsid")
	}
	dir := t.TempDir()
	img, want := testutil.ChipImage(t, dir, 4<<20)
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	count, pid1, pid2 := filepath.Join(dir, "count"), filepath.Join(dir, "pid1"), filepath.Join(dir, "pid2")
	wrapper := filepath.Join(bin, "flashrom")
	script := `#!/bin/sh
case " $* " in
*" -r "*)
	n=$(cat '` + count + `' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '` + count + `'
	if [ $n = 1 ]; then
		sleep 300 &
		echo $! > '` + pid1 + `'
	else
		/usr/bin/setsid sh -c 'echo $$ > ` + pid2 + `; exec sleep 300' >&2 &
		while [ ! -s '` + pid2 + `' ]; do sleep 0.05; done
		while [ "$(cat /proc/$(cat '` + pid2 + `')/comm 2>/dev/null)" != sleep ]; do sleep 0.01; done
	fi ;;
esac
exec ` + systemFlashrom + ` "$@"
`
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := runner.Find(context.Background(), runner.FindOptions{Explicit: wrapper})
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	sum, err := Backup(context.Background(), BackupOptions{Programmer: "dummy:emulate=SST25VF032B,image=" + img, Flasher: f,
		StateDir: filepath.Join(dir, "state"), Root: dmiRoot(t), Sink: rec.sink})
	pids := map[string]int{}
	for _, p := range []string{pid1, pid2} {
		b, _ := os.ReadFile(p)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		pids[p] = pid
		if pid > 1 {
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(sum.Backup.Path); !bytes.Equal(got, want) || sum.Result != ResultOK {
		t.Fatalf("summary %+v; backup equals chip: %v", sum, bytes.Equal(got, want))
	}
	var seq []string
	var strays []*Strays
	for _, e := range rec.events() {
		switch d := e.Data.(type) {
		case *Progress:
			if d.Op == PhaseRead && d.Status != "" {
				seq = append(seq, fmt.Sprintf("read %d:%s", d.Pass, d.Status))
			}
		case *Strays:
			seq = append(seq, fmt.Sprintf("strays %d", d.Pass))
			strays = append(strays, d)
		}
	}
	if s := strings.Join(seq, " "); s != "read 1:start read 1:ok strays 1 read 2:start read 2:ok strays 2" {
		t.Fatalf("sequence %s", s)
	}
	s1, s2 := strays[0], strays[1]
	if s1.Stage != StageBackup || s1.Op != PhaseRead || s1.Passes != 2 || s1.PID <= 0 || s1.Waited != 0 || len(s1.Held) != 0 ||
		len(s1.Killed) != 1 || s1.Killed[0] != (runner.Process{PID: pids[pid1], Name: "sleep"}) {
		t.Errorf("read 1's strays %+v, want sleep %d killed", s1, pids[pid1])
	}
	if s2.Waited != runner.PipeGrace().Seconds() || len(s2.Killed) != 0 ||
		len(s2.Held) != 1 || s2.Held[0] != (runner.Process{PID: pids[pid2], Name: "sleep"}) {
		t.Errorf("read 2's strays %+v, want sleep %d holding the output", s2, pids[pid2])
	}
	if err := syscall.Kill(pids[pid1], 0); err == nil {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pids[pid1])); !bytes.Contains(b, []byte(") Z")) {
			t.Errorf("read 1's stray %d still runs", pids[pid1])
		}
	}
	if err := syscall.Kill(pids[pid2], 0); err != nil {
		t.Errorf("read 2's escaped holder %d was killed: %v", pids[pid2], err)
	}
	// events.jsonl keeps them too.
	evf, _ := os.ReadFile(sum.Events)
	if n := bytes.Count(evf, []byte(`"type":"flasher_strays"`)); n != 2 {
		t.Errorf("events.jsonl has %d flasher_strays events", n)
	}
}
