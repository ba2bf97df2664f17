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
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight"
	"libreflash/internal/preflight/preflighttest"
	"libreflash/internal/restore"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// These tests run the whole install with the real flashrom and its dummy
// programmer: an emulated SPI chip backed by a file in a temp dir. Never
// -p internal. The machine is a fixture (a ThinkPad X200 root), copied so
// that restore may change it.

const testFlashrom = "/usr/sbin/flashrom"

func needFlashrom(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(testFlashrom); err != nil {
		t.Skip("flashrom not installed at /usr/sbin/flashrom (scripts/test.sh installs it)")
	}
}

// repoFile is a path in the repository, found from this source file.
func repoFile(parts ...string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(append([]string{filepath.Dir(file), "..", ".."}, parts...)...)
}

const x200Config = `CONFIG_VENDOR_LENOVO=y
CONFIG_BOARD_LENOVO_X200=y
CONFIG_MAINBOARD_VENDOR="LENOVO"
CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"`

// mkrom makes an image with scripts/mkrom.sh (coreboot's cbfstool and
// fmaptool): kind "rom" (config lines follow) or "factory".
func mkrom(t testing.TB, kind string, size int64, config ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), kind+".rom")
	args := append([]string{repoFile("scripts", "mkrom.sh"), kind, out, fmt.Sprint(size)}, config...)
	cmd := exec.Command("bash", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkrom.sh %s: %v\n%s", kind, err, b)
	}
	return out
}

func x200ROM(t testing.TB, size int64) string {
	return mkrom(t, "rom", size, strings.Split(x200Config, "\n")...)
}

// fixture copies a preflight fixture machine into a temp dir and loads it.
func fixture(t testing.TB, machine string) *preflight.Env {
	t.Helper()
	src := repoFile("internal", "preflight", "testdata", machine)
	dst := filepath.Join(t.TempDir(), machine)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	e, err := preflighttest.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	// The flasher is real in these tests: the fixture's recorded one
	// would not be the one --flasher names.
	e.FindFlasher = runner.Find
	return e
}

// chipFile makes the emulated chip's backing file, holding contents.
func chipFile(t *testing.T, contents string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "chip.bin")
	copyFile(t, contents, p)
	return p
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// faultWrapper is a flasher that adds fault to the dummy programmer of the
// first write only, so the rollback that follows runs on a healthy chip.
func faultWrapper(t *testing.T, fault string) string {
	return firstWriteWrapper(t, "flashrom-first-write-fault", `for a; do
			shift
			case $a in dummy:*) a="$a,`+fault+`" ;; esac
			set -- "$@" "$a"
		done`)
}

// oddWrapper is a flasher whose first write runs firstWrite, a shell
// fragment that exits, instead of flashrom.
func oddWrapper(t *testing.T, firstWrite string) string {
	return firstWriteWrapper(t, "flashrom-odd-first-write", firstWrite)
}

// firstWriteWrapper is a flasher script: on the first write (-w) it runs
// fragment, then (if the fragment did not exit) flashrom with the possibly
// rewritten arguments; every other run is flashrom itself. It must be
// root's, in root's directories, or libreflash refuses it.
func firstWriteWrapper(t *testing.T, name, fragment string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the stand-in flasher must be owned by root, and these tests do not run as root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `#!/bin/sh
# test flasher: the first write (-w) is special, everything else is flashrom
mark="$(dirname "$0")/done"
case " $* " in
*" -w "*)
	if [ ! -e "$mark" ]; then
		: > "$mark"
		` + fragment + `
	fi
	;;
esac
exec ` + testFlashrom + ` "$@"
`
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// events collects a run's events.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (ev *events) sink(e Event) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.all = append(ev.all, e)
}

// stages lists "stage:status" in order.
func (ev *events) stages() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []string
	for _, e := range ev.all {
		if st, ok := e.Data.(*Stage); ok {
			out = append(out, st.Stage+":"+st.Status)
		}
	}
	return out
}

// logs is every event but progress updates, as JSON lines, for failure
// messages.
func (ev *events) logs() string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var b strings.Builder
	for _, e := range ev.all {
		if p, ok := e.Data.(*Progress); ok && p.Status == "" {
			continue
		}
		j, _ := json.Marshal(e)
		b.Write(append(j, '\n'))
	}
	return b.String()
}

// chipStates lists the chip_state events as "state/basis".
func (ev *events) chipStates() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []string
	for _, e := range ev.all {
		if c, ok := e.Data.(*ChipState); ok {
			out = append(out, c.State+"/"+c.Basis)
		}
	}
	return out
}

// first returns the first event of type typ, nil when there is none.
func (ev *events) first(typ string) Payload {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if e.Type() == typ {
			return e.Data
		}
	}
	return nil
}

func (ev *events) findings() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []string
	for _, e := range ev.all {
		if f, ok := e.Data.(*Finding); ok {
			out = append(out, f.ID)
		}
	}
	return out
}

type run struct {
	opts InstallOptions
	ev   *events
	chip string // the emulated chip's file
}

// newRun prepares an install of rom onto an emulated chip holding factory,
// on the X200 fixture.
func newRun(t *testing.T, emulate, rom, factory string, faults ...string) *run {
	t.Helper()
	needFlashrom(t)
	chip := chipFile(t, factory)
	prog := "dummy:emulate=" + emulate + ",image=" + chip
	for _, f := range faults {
		prog += "," + f
	}
	ev := &events{}
	return &run{ev: ev, chip: chip, opts: InstallOptions{
		ROM: rom, Programmer: prog, FlasherPath: testFlashrom,
		StateDir: filepath.Join(t.TempDir(), "state"),
		Env:      fixture(t, "debian-thinkpad-legacy"),
		Emit:     ev.sink,
	}}
}

func (r *run) install(t *testing.T) (*Summary, error) {
	t.Helper()
	s, err := Install(context.Background(), r.opts)
	if s == nil {
		t.Fatal("Install returned no summary")
	}
	r.ev.mu.Lock()
	last := r.ev.all[len(r.ev.all)-1]
	r.ev.mu.Unlock()
	if last.Data != s {
		t.Errorf("last event is %q, want the summary", last.Type())
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("stages: %v\nlogs:\n%s", r.ev.stages(), r.ev.logs())
	}
	return s, err
}

func exitOf(err error) int {
	if err == nil {
		return 0
	}
	var c exitcode.Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return 1
}

const size4M = 4 << 20

func TestInstallWritesVerifiesAndKeepsBackup(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	s, err := r.install(t)
	if err != nil {
		t.Fatalf("install: %v (hint %q)", err, s.Hint)
	}
	if s.Result != ResultOK || s.Exit != 0 {
		t.Errorf("result %s exit %d", s.Result, s.Exit)
	}
	if !sameFile(t, r.chip, rom) {
		t.Error("the emulated chip does not hold the ROM")
	}
	if s.Backup == nil || !sameFile(t, s.Backup.Path, factory) {
		t.Fatalf("backup %+v does not hold the chip's previous contents", s.Backup)
	}
	if s.Backup.SHA256 != fileSHA(t, factory) {
		t.Errorf("backup sha256 %s, want the factory image's", s.Backup.SHA256)
	}
	// 2 backup reads and the flasher's verification: --flash-contents
	// spares the third read.
	if s.ChipReads != 3 {
		t.Errorf("chip_reads = %d, want 3", s.ChipReads)
	}
	if s.Chip == nil || s.Chip.Name != "SST25VF032B" || s.Chip.Size != size4M {
		t.Errorf("chip %+v", s.Chip)
	}
	want := []string{"lock:start", "lock:ok", "check:start", "check:ok", "plan:start", "plan:ok",
		"backup:start", "backup:ok", "write:start", "write:ok", "verify:start", "verify:ok", "restore:skip"}
	if got := r.ev.stages(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("stages\n got %v\nwant %v", got, want)
	}
	log, err := os.ReadFile(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(log, []byte("--flash-contents "+s.Backup.Path)) {
		t.Errorf("the write did not reuse the backup as --flash-contents:\n%s", log)
	}
	// The run's record on disk ends with the same summary.
	checkRunRecord(t, s)
}

// checkRunRecord reads events.jsonl and state.json of the run.
func checkRunRecord(t *testing.T, s *Summary) {
	t.Helper()
	b, err := os.ReadFile(s.Events)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	var last map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &last); err != nil {
		t.Fatal(err)
	}
	if last["type"] != "summary" || last["result"] != s.Result || last["exit"] != float64(s.Exit) {
		t.Errorf("events.jsonl ends with %v", last)
	}
	st, err := statedir.ReadRun(filepath.Dir(s.Events))
	if err != nil {
		t.Fatalf("state.json: %v", err)
	}
	if !st.Finished || st.Result != s.Result {
		t.Errorf("state.json %+v", st)
	}
}

// journalEntry writes a journal with one applied iomem-relaxed change (a
// GRUB drop-in under the fixture root, undone by deleting it) and returns
// the drop-in's path. Undoing it changes only files under the fixture.
func journalEntry(t *testing.T, r *run) string {
	t.Helper()
	content := []byte("GRUB_CMDLINE_LINUX_DEFAULT=\"$GRUB_CMDLINE_LINUX_DEFAULT iomem=relaxed\"\n")
	host := "/etc/default/grub.d/99-libreflash.cfg"
	p := filepath.Join(r.opts.Env.Root, host)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	j := restore.Journal{Version: 1, Entries: []*restore.Entry{{
		ID: "test-1", Action: restore.ActionIomem, Backend: "grub-dropin", State: restore.StateApplied,
		Created: time.Now().UTC(), Reboot: true, Param: "iomem=relaxed",
		Files: []*restore.FileChange{{Path: host, NewSHA256: hex.EncodeToString(sum[:]), Fallback: "delete", Mode: 0o644}},
	}}}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.opts.StateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.opts.StateDir, "journal.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if m, err := restore.New(r.opts.Env.Root, r.opts.StateDir).Journal(); err != nil || len(m.Entries) != 1 {
		t.Fatalf("test journal not accepted: %v", err)
	}
	return p
}

func pendingEntries(t *testing.T, r *run) int {
	t.Helper()
	j, err := restore.New(r.opts.Env.Root, r.opts.StateDir).Journal()
	if err != nil {
		t.Fatal(err)
	}
	return len(j.Entries)
}

func TestInstallRestoresProtectionsAfterVerifiedWrite(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	for _, noRestore := range []bool{false, true} {
		t.Run(fmt.Sprintf("no-restore=%v", noRestore), func(t *testing.T) {
			r := newRun(t, "SST25VF032B", rom, factory)
			r.opts.NoRestore = noRestore
			dropin := journalEntry(t, r)
			s, err := r.install(t)
			if err != nil || s.Result != ResultOK {
				t.Fatalf("install: %v", err)
			}
			_, statErr := os.Stat(dropin)
			if noRestore {
				if statErr != nil || pendingEntries(t, r) != 1 {
					t.Errorf("--no-restore undid the change (%v)", statErr)
				}
				return
			}
			if !os.IsNotExist(statErr) || pendingEntries(t, r) != 0 {
				t.Errorf("protections not restored after a verified write: drop-in %v, journal %d", statErr, pendingEntries(t, r))
			}
		})
	}
}

// A write the controller refuses half-way (catalog §4.2: spi_blacklist=02
// on W25Q128FV) leaves the chip changed: unknown state. The rollback, on a
// chip that now works, brings the backup back: exit 4, rolled_back.
func TestInstallRollsBackAfterRefusedWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("16 MiB chip, written twice")
	}
	t.Parallel()
	const size = 16 << 20
	factory := mkrom(t, "factory", size)
	rom := x200ROM(t, size)
	r := newRun(t, "W25Q128FV", rom, factory)
	r.opts.FlasherPath = faultWrapper(t, "spi_blacklist=02")
	dropin := journalEntry(t, r)
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unchanged || s.Result != ResultRolledBack {
		t.Fatalf("exit %d result %s (%v), want 4 rolled_back", exitOf(err), s.Result, err)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("the chip does not hold the original contents after the rollback")
	}
	if got := strings.Join(r.ev.chipStates(), " "); got != "unknown/flasher_unknown rolled_back/read_back" {
		t.Errorf("chip states %q: the user must hear of the unknown state before the rollback", got)
	}
	if !strings.Contains(strings.Join(r.ev.stages(), " "), "rollback:start rollback:ok") {
		t.Errorf("stages %v", r.ev.stages())
	}
	if len(r.ev.findings()) == 0 {
		t.Error("no diagnosis of the failed write")
	}
	// The chip is known again, so the protections are restored.
	if _, err := os.Stat(dropin); !os.IsNotExist(err) {
		t.Errorf("protections not restored after a verified rollback")
	}
	if !sameFile(t, s.Backup.Path, factory) {
		t.Error("backup changed")
	}
}

// The chip ignores page programs (spi_ignorelist, AAI for SST25VF032B):
// the write "succeeds", the flasher's verification fails: unknown state,
// rollback.
func TestInstallRollsBackAfterFailedVerify(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	r.opts.FlasherPath = faultWrapper(t, "spi_ignorelist=ad")
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unchanged || s.Result != ResultRolledBack {
		t.Fatalf("exit %d result %s (%v), want 4 rolled_back", exitOf(err), s.Result, err)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("the chip does not hold the original contents after the rollback")
	}
	if !strings.Contains(strings.Join(r.ev.stages(), " "), "verify:fail rollback:start rollback:ok") {
		t.Errorf("stages %v", r.ev.stages())
	}
}

// The fault persists: the rollback fails too. Exit 5, recovery steps, the
// protections stay lowered and the backup is intact.
func TestInstallUnknownStateWhenRollbackFails(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory, "spi_blacklist=ad")
	dropin := journalEntry(t, r)
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unknown || s.Result != ResultUnknownState {
		t.Fatalf("exit %d result %s (%v), want 5 unknown_state", exitOf(err), s.Result, err)
	}
	if _, err := os.Stat(dropin); err != nil || pendingEntries(t, r) != 1 {
		t.Errorf("protections were restored after an unknown state (%v)", err)
	}
	for _, st := range r.ev.stages() {
		if strings.HasPrefix(st, "restore:") {
			t.Errorf("restore stage %s after an unknown state", st)
		}
	}
	if s.Backup == nil || fileSHA(t, s.Backup.Path) != s.Backup.SHA256 || !sameFile(t, s.Backup.Path, factory) {
		t.Fatalf("backup not intact: %+v", s.Backup)
	}
	var ids []string
	for _, n := range s.Next {
		ids = append(ids, n.ID)
	}
	if got := strings.Join(ids, " "); got != "keep_power copy_backup protections_stay retry_backup run_again external" {
		t.Errorf("recovery steps %q", got)
	}
	if len(s.Next) == 6 && (s.Next[1].Path != s.Backup.Path || !strings.Contains(s.Next[3].Command, "-w "+s.Backup.Path)) {
		t.Errorf("recovery steps %+v do not name the backup", s.Next)
	}
	// No finding tells a user with a chip in an unknown state that it may
	// reboot (the failed rollback's own run "wrote nothing").
	for _, p := range r.ev.payloads(TypeFinding) {
		if f := p.(*Finding); strings.Contains(f.Fix, "you may reboot") || strings.Contains(f.Fix, "safe to reboot") {
			t.Errorf("finding %s after an unknown state says: %s", f.ID, f.Fix)
		}
	}
	checkRunRecord(t, s)
}

// The chip ignores every erase (catalog §4.2): the flasher checks, finds
// the chip unchanged, says so. Exit 4, unchanged, no rollback needed.
func TestInstallUnchangedWhenEraseIgnored(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory, "spi_ignorelist=20d852c760")
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unchanged || s.Result != ResultUnchanged {
		t.Fatalf("exit %d result %s (%v), want 4 unchanged", exitOf(err), s.Result, err)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("chip changed")
	}
	for _, st := range r.ev.stages() {
		if strings.HasPrefix(st, "rollback:") {
			t.Errorf("rolled back an unchanged chip: %v", r.ev.stages())
		}
	}
	if got := r.ev.findings(); !slices.Contains(got, "write_failed") {
		t.Errorf("findings %v, want write_failed among them", got)
	}
}

// A flasher that writes the chip, prints nothing libreflash recognises and
// fails must not be taken for "unchanged, safe to reboot": no erase or write
// line is no evidence. libreflash reads the chip back, finds it changed and
// rolls back.
func TestInstallSilentWriteIsNotUnchanged(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	r.opts.FlasherPath = oddWrapper(t, testFlashrom+` "$@" >/dev/null 2>&1; echo "Something odd happened."; exit 1`)
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unchanged || s.Result != ResultRolledBack {
		t.Fatalf("exit %d result %s (%v), want 4 rolled_back", exitOf(err), s.Result, err)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("the chip does not hold the original contents after the rollback")
	}
	if got := strings.Join(r.ev.chipStates(), " "); got != "unknown/read_back rolled_back/read_back" {
		t.Errorf("chip states %q:\n%s", got, r.ev.logs())
	}
	// Before deciding, the chip was read back and compared with the backup.
	readBack := false
	for _, e := range r.ev.all {
		if p, ok := e.Data.(*Progress); ok && p.Stage == StageVerify && p.Status == StatusStart {
			readBack = true
		}
		if c, ok := e.Data.(*ChipState); ok && c.State == ChipUnknown && !readBack {
			t.Errorf("unknown state decided without reading the chip back:\n%s", r.ev.logs())
		}
	}
}

// The same odd failure without a write: the read-back finds the backup, so
// the chip is unchanged and nothing is rolled back.
func TestInstallOddFailureReadBackUnchanged(t *testing.T) {
	t.Parallel()
	factory := mkrom(t, "factory", size4M)
	rom := x200ROM(t, size4M)
	r := newRun(t, "SST25VF032B", rom, factory)
	r.opts.FlasherPath = oddWrapper(t, `echo "Something odd happened."; exit 1`)
	s, err := r.install(t)
	if exitOf(err) != exitcode.Unchanged || s.Result != ResultUnchanged {
		t.Fatalf("exit %d result %s (%v), want 4 unchanged", exitOf(err), s.Result, err)
	}
	if !sameFile(t, r.chip, factory) {
		t.Error("chip changed")
	}
	for _, st := range r.ev.stages() {
		if strings.HasPrefix(st, "rollback:") {
			t.Errorf("rolled back an unchanged chip: %v", r.ev.stages())
		}
	}
	if got := strings.Join(r.ev.chipStates(), " "); got != "unchanged/read_back" {
		t.Errorf("chip states %q, want unchanged/read_back:\n%s", got, r.ev.logs())
	}
}

// The checks that only the internal programmer needs are shown in a
// rehearsal but do not block it; the emulated chip ends up with the ROM.
func TestRehearsalOnBlockedMachine(t *testing.T) {
	t.Parallel()
	needFlashrom(t)
	rom := x200ROM(t, size4M)
	ev := &events{}
	o := InstallOptions{ROM: rom, FlasherPath: testFlashrom, Rehearse: true,
		StateDir: filepath.Join(t.TempDir(), "state"),
		Env:      fixture(t, "uefi-secureboot-lockdown-integrity"), Emit: ev.sink}
	s, err := Install(context.Background(), o)
	if err != nil {
		t.Fatalf("rehearsal: %v\n%s", err, ev.logs())
	}
	if !s.Rehearsal || s.ChipReads != 3 {
		t.Errorf("summary %+v", s)
	}
	p, _ := ev.first(TypePlan).(*Plan)
	if p == nil || p.Rehearsal == nil || len(p.Rehearsal.WouldBlock) == 0 || p.Rehearsal.For != "internal" {
		t.Errorf("the plan does not say which checks stop the real run:\n%s", ev.logs())
	}
	if len(s.Next) != 1 || s.Next[0].ID != NextFixAndRetry {
		t.Errorf("next %+v: a rehearsal on a blocked machine must not say the real install comes next", s.Next)
	}
	chip := filepath.Join(filepath.Dir(s.Events), "chip.bin")
	if !sameFile(t, chip, rom) {
		t.Error("the emulated chip does not hold the ROM")
	}
	if !strings.HasPrefix(s.Backup.Path, filepath.Join(o.StateDir, "rehearsals")+"/") {
		t.Errorf("a rehearsal's backup %s is not kept apart from real ones", s.Backup.Path)
	}
	if len(s.Next) != 1 || !strings.Contains(s.Next[0].Command, "sudo libreflash install") {
		t.Errorf("next steps %+v", s.Next)
	}
}

// --rehearse-from seeds the emulated chip: the backup is that image.
func TestRehearsalFromBackup(t *testing.T) {
	t.Parallel()
	needFlashrom(t)
	rom := x200ROM(t, size4M)
	from := mkrom(t, "factory", size4M)
	o := InstallOptions{ROM: rom, FlasherPath: testFlashrom, Rehearse: true, RehearseFrom: from,
		StateDir: filepath.Join(t.TempDir(), "state"), Env: fixture(t, "debian-thinkpad-legacy")}
	s, err := Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !sameFile(t, s.Backup.Path, from) {
		t.Error("backup is not the --rehearse-from image")
	}
}

func TestEmulatedChipFor(t *testing.T) {
	for _, c := range []struct {
		size    int64
		kind    string
		emulate string
		err     bool
	}{
		{4 << 20, "flashrom", "SST25VF032B", false},
		{16 << 20, "flashprog", "W25Q128FV", false},
		{8 << 20, "flashrom", "VARIABLE_SIZE", false},
		{12 << 20, "flashrom", "VARIABLE_SIZE", false},
		{8 << 20, "flashprog", "", true},
		{12345, "flashrom", "", true},
	} {
		ec, err := EmulatedChipFor(c.size, c.kind)
		if (err != nil) != c.err || ec.Emulate != c.emulate {
			t.Errorf("%d %s: %+v %v", c.size, c.kind, ec, err)
		}
	}
}

// The generated factory image keeps the ROM's descriptor (so --ifd finds
// the same layout on the emulated chip) and differs from it elsewhere.
func TestFactoryImage(t *testing.T) {
	rom := make([]byte, 1<<20)
	for i := range rom {
		rom[i] = byte(i * 7)
	}
	copy(rom[0x10:], ifdSignature)
	f := FactoryImage(rom)
	if !bytes.Equal(f[:0x1000], rom[:0x1000]) {
		t.Error("descriptor not kept")
	}
	if bytes.Equal(f[0x1000:0x2000], rom[0x1000:0x2000]) {
		t.Error("factory image equals the ROM outside the descriptor")
	}
	if f[len(f)-1] != 0xff {
		t.Error("no erased tail")
	}
	if !bytes.Equal(FactoryImage(rom), f) {
		t.Error("not deterministic")
	}
}

// guardFlasher is flashrom behind a guard that refuses -p internal: tests
// whose checks are for the internal programmer must never reach the chipset
// of the machine they run on. It logs every invocation to log.
func guardFlasher(t *testing.T) (path, log string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the guard flasher must be owned by root, and these tests do not run as root")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log = filepath.Join(dir, "invocations")
	script := `#!/bin/sh
echo "$*" >> ` + log + `
for a; do case $a in internal*) echo "test guard: refusing -p internal" >&2; exit 1 ;; esac; done
exec ` + testFlashrom + ` "$@"
`
	path = filepath.Join(dir, "flashrom-guarded")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, log
}

// writeRootFile writes a file under the fixture root.
func writeRootFile(t *testing.T, root, host string, data string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, host)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// A machine whose kernel blocks /dev/mem (the X200 fixture: STRICT_DEVMEM,
// a driver on the range) is offered the reversible fix: install applies it
// through internal/restore (a GRUB drop-in with iomem=relaxed, in the
// fixture root, with stand-in tools) and asks for a reboot: exit 6. Saying
// no changes nothing: exit 130.
func TestInstallOffersPrepareThenAsksForReboot(t *testing.T) {
	t.Parallel()
	needFlashrom(t)
	rom := x200ROM(t, size4M)
	for _, accept := range []bool{true, false} {
		t.Run(fmt.Sprintf("accept=%v", accept), func(t *testing.T) {
			flasher, invocations := guardFlasher(t)
			env := fixture(t, "debian-thinkpad-legacy")
			env.FindFlasher = runner.Find
			root := env.Root
			writeRootFile(t, root, "/etc/default/grub", "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n", 0o644)
			if err := os.MkdirAll(filepath.Join(root, "etc/default/grub.d"), 0o755); err != nil {
				t.Fatal(err)
			}
			ran := filepath.Join(root, "tools-ran")
			writeRootFile(t, root, "/usr/sbin/update-grub", "#!/bin/sh\necho \"update-grub $*\" >> "+ran+"\n", 0o755)
			// modprobe -r as the kernel would have it: the modules leave
			// the fixture's /proc/modules.
			writeRootFile(t, root, "/usr/sbin/modprobe", "#!/bin/sh\necho \"modprobe $*\" >> "+ran+"\n"+
				"[ \"$1\" = -r ] && shift\nfor m; do sed -i \"/^$m /d\" "+filepath.Join(root, "proc/modules")+"; done\n", 0o755)
			ev := &events{}
			var asked []string
			o := InstallOptions{ROM: rom, FlasherPath: flasher, StateDir: filepath.Join(t.TempDir(), "state"),
				Env: env, Emit: ev.sink, Command: "sudo libreflash install x200.rom",
				Confirm: func(q string) bool { asked = append(asked, q); return accept }}
			s, err := Install(context.Background(), o)
			t.Logf("stages %v\n%s", ev.stages(), ev.logs())
			dropin := filepath.Join(root, "etc/default/grub.d/99-libreflash.cfg")
			b, _ := os.ReadFile(invocations)
			if strings.Contains(string(b), "internal") {
				t.Errorf("the flasher was asked for -p internal:\n%s", b)
			}
			if len(asked) != 1 || !strings.Contains(asked[0], "reversible") {
				t.Fatalf("questions %q", asked)
			}
			if !accept {
				if exitOf(err) != exitcode.Cancelled || s.Result != ResultCancelled {
					t.Errorf("exit %d result %s", exitOf(err), s.Result)
				}
				if _, err := os.Stat(dropin); !os.IsNotExist(err) {
					t.Error("changed the boot configuration after the user said no")
				}
				return
			}
			if exitOf(err) != exitcode.Reboot || s.Result != ResultPrepared {
				t.Fatalf("exit %d result %s (%v), want 6 prepared", exitOf(err), s.Result, err)
			}
			if d, err := os.ReadFile(dropin); err != nil || !strings.Contains(string(d), "iomem=relaxed") {
				t.Errorf("drop-in: %v %q", err, d)
			}
			if r, _ := os.ReadFile(ran); !strings.Contains(string(r), "update-grub") {
				t.Errorf("update-grub did not run: %q", r)
			}
			if pending := len(mustJournal(t, root, o.StateDir).Entries); pending == 0 {
				t.Error("nothing journaled")
			}
			var ie *InstallError
			if !errors.As(err, &ie) || !strings.Contains(ie.Hint(), "reboot, then run: sudo libreflash install x200.rom") {
				t.Errorf("hint %q", ie.Hint())
			}
			if s.Backup != nil || s.ChipReads != 0 {
				t.Errorf("the chip was read before the reboot: %+v", s)
			}
		})
	}
}

func mustJournal(t *testing.T, root, state string) *restore.Journal {
	t.Helper()
	j, err := restore.New(root, state).Journal()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// An image whose descriptor lets the host write the BIOS region only (as
// on real Intel machines) is written with --ifd -i bios -N: on the
// emulated chip, seeded with the factory-like image (which carries the
// same descriptor), the BIOS region becomes the ROM's and the ME region
// keeps the factory contents.
func TestRehearsalWritesOnlyTheBIOSRegion(t *testing.T) {
	t.Parallel()
	needFlashrom(t)
	rom := mkrom(t, "ifdrom", size4M, strings.Split(x200Config, "\n")...)
	ev := &events{}
	o := InstallOptions{ROM: rom, FlasherPath: testFlashrom, Rehearse: true,
		StateDir: filepath.Join(t.TempDir(), "state"), Env: fixture(t, "debian-thinkpad-legacy"), Emit: ev.sink}
	s, err := Install(context.Background(), o)
	if err != nil {
		t.Fatalf("%v\n%s", err, ev.logs())
	}
	log, _ := os.ReadFile(s.Log)
	if !bytes.Contains(log, []byte("--ifd -i bios -N -n --flash-contents")) {
		t.Errorf("not a BIOS-region write:\n%s", log)
	}
	chip, _ := os.ReadFile(filepath.Join(filepath.Dir(s.Events), "chip.bin"))
	want, _ := os.ReadFile(rom)
	backup, _ := os.ReadFile(s.Backup.Path)
	half := size4M / 2
	if !bytes.Equal(chip[half:], want[half:]) {
		t.Error("the BIOS region does not hold the ROM's")
	}
	if !bytes.Equal(chip[:half], backup[:half]) {
		t.Error("the descriptor or ME region changed")
	}
}
