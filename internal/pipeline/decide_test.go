package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"libreflash/internal/exitcode"
	"libreflash/internal/preflight/preflighttest"
	"libreflash/internal/runner"
	"libreflash/internal/statedir"
)

// The decision branches of install, each with a fake flasher (fake_test.go):
// no root, no flasher, no emulated chip. The end-to-end tests with the real
// flashrom (install_test.go) stay on top.

// fakeRun is one install against a fake flasher on the X200 fixture.
type fakeRun struct {
	f       *fakeFlasher
	factory []byte // the chip before the run
	rom     string
	opts    InstallOptions
	ev      *events
}

func newFakeRun(t *testing.T, machine string, rom string, chip []byte) *fakeRun {
	t.Helper()
	src := repoFile("internal", "preflight", "testdata", machine)
	dst := filepath.Join(t.TempDir(), machine)
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	env, err := preflighttest.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	r := &fakeRun{f: newFake(chip), factory: chip, rom: rom, ev: ev}
	r.opts = InstallOptions{ROM: rom, Programmer: "fake", Flasher: r.f, Env: env,
		StateDir: filepath.Join(t.TempDir(), "state"), Emit: ev.sink}
	return r
}

func (r *fakeRun) install(t *testing.T, ctx context.Context) (*Summary, error) {
	t.Helper()
	s, err := Install(ctx, r.opts)
	if s == nil {
		t.Fatal("no summary")
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("events:\n%s", r.ev.logs())
	}
	return s, err
}

// romAndFactory makes a 4 MiB X200 image and a factory-like chip for it.
func romAndFactory(t *testing.T) (string, []byte) {
	t.Helper()
	rom := x200ROM(t, size4M)
	data, err := os.ReadFile(rom)
	if err != nil {
		t.Fatal(err)
	}
	return rom, FactoryImage(data)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantEnd checks the result, the exit code and the chip's contents.
func wantEnd(t *testing.T, r *fakeRun, s *Summary, err error, result string, exit int, chip []byte) {
	t.Helper()
	if s.Result != result || exitOf(err) != exit || s.Exit != exit {
		t.Fatalf("result %s exit %d (%v), want %s %d\n%s", s.Result, exitOf(err), err, result, exit, r.ev.logs())
	}
	if !bytes.Equal(r.f.contents(), chip) {
		t.Errorf("the chip does not hold what it should after %s", result)
	}
}

func (ev *events) payloads(typ string) []Payload {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []Payload
	for _, e := range ev.all {
		if e.Type() == typ {
			out = append(out, e.Data)
		}
	}
	return out
}

// A good write: probe, two reads, one write without the flasher's verify
// (-n, reusing the backup as --flash-contents), one read by libreflash to
// verify: five chip-touching runs (issue 17 item 7, issue 13 item 8).
func TestFakeInstallOK(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultOK, 0, mustRead(t, rom))
	if s.FlasherRuns != 5 || len(r.f.argv) != 5 || s.ChipReads != 3 {
		t.Errorf("flasher_runs %d, argv %q, chip_reads %d; want 5 runs, 3 reads", s.FlasherRuns, r.f.argv, s.ChipReads)
	}
	if w := r.f.writes[0]; !w.NoVerify || w.Contents != r.ev.payloads(TypeBackup)[0].(*VerifiedBackup).Path {
		t.Errorf("write %+v: want -n and the backup as --flash-contents", w)
	}
	v := r.ev.payloads(TypeVerify)
	if len(v) != 1 || !v[0].(*Verify).OK || v[0].(*Verify).Against != AgainstImage {
		t.Errorf("verify events %+v", v)
	}
	if p := r.ev.first(TypePlan).(*Plan); p.FlasherRuns != 5 || p.ChipReads != 3 {
		t.Errorf("plan expects %d runs and %d reads", p.FlasherRuns, p.ChipReads)
	}
	checkRunRecord(t, s)
}

// A flasher that reports success without writing ("VERIFIED" is its word
// only): libreflash's own read finds the old contents. Exit 4, unchanged,
// never "written and verified" (issue 13 item 8).
func TestFakeFlasherClaimsAWriteItDidNotMake(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(*fakeFlasher, int, WriteOp, IO) error { return nil }
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultUnchanged, exitcode.Unchanged, factory)
	if got := strings.Join(r.ev.chipStates(), " "); got != "unchanged/read_back" {
		t.Errorf("chip states %q", got)
	}
}

// A flasher that stops with a message it prints before any chip access:
// unchanged, without reading the chip back.
func TestFakeWriteStopsBeforeTheChip(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(_ *fakeFlasher, _ int, _ WriteOp, o IO) error {
		fmt.Fprintln(o.Log, "Could not get I/O privileges (Permission denied). You need to be root.")
		return errors.New("exit status 1")
	}
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultUnchanged, exitcode.Unchanged, factory)
	if got := strings.Join(r.ev.chipStates(), " "); got != "unchanged/stopped_before_chip" {
		t.Errorf("chip states %q", got)
	}
	if s.FlasherRuns != 4 {
		t.Errorf("%d flasher runs, want 4 (no read-back)", s.FlasherRuns)
	}
}

// The flasher says the chip is unchanged: believed, no rollback.
func TestFakeFlasherSaysUnchanged(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(_ *fakeFlasher, _ int, _ WriteOp, o IO) error {
		event(o, runner.Event{Kind: runner.EvStageStart, Stage: runner.StageErase})
		event(o, runner.Event{Kind: runner.EvUnchanged})
		return errors.New("exit status 1")
	}
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultUnchanged, exitcode.Unchanged, factory)
	if got := strings.Join(r.ev.chipStates(), " "); got != "unchanged/flasher_said" {
		t.Errorf("chip states %q", got)
	}
}

// A write cut short: the read-back shows neither old nor new, the backup
// is written back, using the read-back as --flash-contents (no extra
// read), and verified by one read. Exit 4, rolled back.
func TestFakeHalfWriteRolledBack(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(f *fakeFlasher, n int, w WriteOp, o IO) error {
		if n == 1 {
			return f.copyIn(w, o, size4M/2)
		}
		return f.copyIn(w, o, -1)
	}
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultRolledBack, exitcode.Unchanged, factory)
	if got := strings.Join(r.ev.chipStates(), " "); got != "unknown/read_back rolled_back/read_back" {
		t.Errorf("chip states %q", got)
	}
	if len(r.f.writes) != 2 || r.f.writes[1].Contents == "" || !strings.HasSuffix(r.f.writes[1].Contents, ".rom") {
		t.Errorf("rollback %+v: want the read-back as --flash-contents", r.f.writes)
	}
	if s.FlasherRuns != 7 {
		t.Errorf("%d flasher runs, want 7: probe, 2 reads, write, read-back, rollback, verify", s.FlasherRuns)
	}
}

// When the rollback fails too, the chip is in an unknown state: exit 5,
// protections stay lowered, the recovery steps name the backup.
func TestFakeRollbackFails(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(f *fakeFlasher, n int, w WriteOp, o IO) error { return f.copyIn(w, o, size4M/4) }
	s, err := r.install(t, context.Background())
	if s.Result != ResultUnknownState || exitOf(err) != exitcode.Unknown {
		t.Fatalf("result %s exit %d", s.Result, exitOf(err))
	}
	if len(s.Next) == 0 || s.Next[0].ID != NextKeepPower || s.Next[1].Path != s.Backup.Path {
		t.Errorf("next %+v", s.Next)
	}
	for _, st := range r.ev.stages() {
		if strings.HasPrefix(st, "restore:") {
			t.Errorf("%s after an unknown state", st)
		}
	}
}

// ^C before the write: exit 130, the chip untouched, nothing written.
func TestFakeCancelledBeforeTheWrite(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r.opts.Confirm = func(string) bool { cancel(); return true }
	s, err := r.install(t, ctx)
	wantEnd(t, r, s, err, ResultCancelled, exitcode.Cancelled, factory)
	if len(r.f.writes) != 0 {
		t.Errorf("writes %+v", r.f.writes)
	}
}

// A blocking check that prepare cannot lift: exit 3 before the flasher
// touched the chip.
func TestFakeBlockedByChecks(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "uefi-secureboot-lockdown-integrity", rom, factory)
	r.opts.Programmer = "internal"
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultBlocked, exitcode.Blocked, factory)
	if len(r.f.argv) != 0 {
		t.Errorf("the flasher ran: %q", r.f.argv)
	}
	var blocks []string
	for _, p := range r.ev.payloads(TypeCheck) {
		if c := p.(*Check); c.Blocks {
			blocks = append(blocks, c.ID)
		}
	}
	if len(blocks) == 0 {
		t.Error("no check event says what blocks")
	}
}

// interrupted leaves in stateDir what an install killed mid-write leaves:
// its verified backup of the factory contents, and a state.json stopped
// at the write.
func interrupted(t *testing.T, stateDir string, factory []byte) *BackupRef {
	t.Helper()
	bdir := filepath.Join(statedir.Backups(stateDir), "20260101T000000Z-7459GW7")
	if err := os.MkdirAll(bdir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"backup.rom", "read-2.rom"} {
		if err := os.WriteFile(filepath.Join(bdir, n), factory, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := sumFile(filepath.Join(bdir, "backup.rom"))
	if err != nil {
		t.Fatal(err)
	}
	if err := writeManifest(bdir, &Manifest{Format: 1, Verified: true, Role: RoleBackup, File: "backup.rom", SHA256: sum,
		Reads: []ReadRecord{{File: "backup.rom", SHA256: sum}, {File: "read-2.rom", SHA256: sum}}}); err != nil {
		t.Fatal(err)
	}
	ref := &BackupRef{Path: filepath.Join(bdir, "backup.rom"), SHA256: sum, Dir: bdir}
	rdir := filepath.Join(statedir.Runs(stateDir), "20260101T000000Z")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := statedir.WriteRun(rdir, statedir.RunState{Command: "install", Started: time.Now().Add(-time.Hour), PID: 1,
		Stage: StageWrite, Status: StatusStart, Backup: runBackup(ref)}, true); err != nil {
		t.Fatal(err)
	}
	return ref
}

// Issue 13 item 1: after an interrupted write, the next install finds the
// earlier run's verified backup and uses it as the way back; its own
// double read of the half-written chip is a snapshot, never "the backup".
func TestInterruptedWriteRollsBackToTheEarlierBackup(t *testing.T) {
	rom, factory := romAndFactory(t)
	half := append([]byte(nil), factory...)
	copy(half[:size4M/2], mustRead(t, rom)[:size4M/2])
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, half)
	earlier := interrupted(t, r.opts.StateDir, factory)
	r.f.onWrite = func(f *fakeFlasher, n int, w WriteOp, o IO) error {
		if n == 1 {
			return f.copyIn(w, o, size4M/8)
		}
		return f.copyIn(w, o, -1)
	}
	s, err := r.install(t, context.Background())
	// Rolled back to the factory contents, not to the half-written chip.
	wantEnd(t, r, s, err, ResultRolledBack, exitcode.Unchanged, factory)
	if s.Backup == nil || s.Backup.Path != earlier.Path {
		t.Errorf("summary backup %+v, want the earlier run's %s", s.Backup, earlier.Path)
	}
	p, _ := r.ev.first(TypePreviousRun).(*PreviousRun)
	if p == nil || !p.Writing || p.Backup == nil || p.Backup.Path != earlier.Path {
		t.Errorf("previous run %+v", p)
	}
	kept := r.ev.payloads(TypeBackup)
	if len(kept) != 1 || kept[0].(*VerifiedBackup).Role != RoleSnapshot {
		t.Errorf("the fresh read is not a snapshot: %+v", kept)
	}
	if pl := r.ev.first(TypePlan).(*Plan); pl.Previous == nil {
		t.Error("the plan does not say the earlier backup is the way back")
	}
}

// The same, when the write goes through: the earlier run is resolved, and
// the summary's backup is still the way back to the factory firmware.
func TestInterruptedWriteThenGoodInstall(t *testing.T) {
	rom, factory := romAndFactory(t)
	half := append([]byte(nil), factory...)
	copy(half[:size4M/2], mustRead(t, rom)[:size4M/2])
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, half)
	earlier := interrupted(t, r.opts.StateDir, factory)
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultOK, 0, mustRead(t, rom))
	if s.Backup == nil || s.Backup.Path != earlier.Path {
		t.Errorf("summary backup %+v, want %s", s.Backup, earlier.Path)
	}
	st, err := statedir.ReadRun(filepath.Join(statedir.Runs(r.opts.StateDir), "20260101T000000Z"))
	if err != nil || st.ResolvedBy == "" {
		t.Errorf("the interrupted run is not marked resolved: %+v %v", st, err)
	}
	// A later backup does not hide an unresolved install, and the next
	// install does not report this one again.
	r2 := newFakeRun(t, "debian-thinkpad-legacy", rom, mustRead(t, rom))
	r2.opts.StateDir = r.opts.StateDir
	if _, err := r2.install(t, context.Background()); err != nil {
		t.Fatal(err)
	}
	if p := r2.ev.first(TypePreviousRun); p != nil {
		t.Errorf("a resolved run reported again: %+v", p)
	}
}

// A backup run after an interrupted install is a snapshot and does not
// hide the install from the next one (issue 17 part 2).
func TestBackupAfterInterruptedWriteIsASnapshot(t *testing.T) {
	_, factory := romAndFactory(t)
	state := filepath.Join(t.TempDir(), "state")
	earlier := interrupted(t, state, factory)
	f := newFake(factory)
	var rec recorder
	s, err := Backup(context.Background(), BackupOptions{Use: f, StateDir: state, Root: dmiRoot(t), Sink: rec.sink})
	if err != nil {
		t.Fatal(err)
	}
	if s.Backup != nil {
		t.Errorf("a snapshot reported as the backup: %+v", s.Backup)
	}
	prev, ok := previousRun(state, "")
	if !ok || prev.State.Backup == nil || prev.State.Backup.Path != earlier.Path {
		t.Errorf("the interrupted install is hidden after a backup: %+v %v", prev, ok)
	}
	runs := statedir.ListRuns(state)
	if len(runs) != 2 || runs[0].State.Command != "backup" || !runs[0].State.Finished || runs[0].State.Snapshot == nil {
		t.Errorf("runs %+v", runs)
	}
}

// Issue 13 item 5: before the backup is written back, it is checked
// against the sha256 recorded when both reads matched; a changed
// backup.rom is said so, and the other kept read, still matching, is used.
func TestRollbackChecksTheBackupAgainstItsSHA256(t *testing.T) {
	rom, factory := romAndFactory(t)
	r := newFakeRun(t, "debian-thinkpad-legacy", rom, factory)
	r.f.onWrite = func(f *fakeFlasher, n int, w WriteOp, o IO) error {
		if n == 1 {
			// Something changes backup.rom while the write runs.
			kept := r.ev.payloads(TypeBackup)[0].(*VerifiedBackup)
			if err := os.WriteFile(kept.Path, bytes.Repeat([]byte{0x42}, size4M), 0o600); err != nil {
				return err
			}
			return f.copyIn(w, o, size4M/2)
		}
		return f.copyIn(w, o, -1)
	}
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultRolledBack, exitcode.Unchanged, factory)
	var checks []string
	for _, p := range r.ev.payloads(TypeBackupCheck) {
		c := p.(*BackupCheck)
		checks = append(checks, fmt.Sprintf("%s:%v", filepath.Base(c.Path), c.OK))
	}
	if got := strings.Join(checks, " "); got != "backup.rom:false read-2.rom:true" {
		t.Errorf("backup checks %q", got)
	}
	if !strings.HasSuffix(r.f.writes[1].Image, "read-2.rom") || !strings.HasSuffix(s.Backup.Path, "read-2.rom") {
		t.Errorf("rolled back from %s, summary %s", r.f.writes[1].Image, s.Backup.Path)
	}
}

// Issue 13 item 2: an image whose descriptor places the BIOS region
// elsewhere than the chip's. With nothing locked the whole chip is
// written, and the plan says why; with --region bios the run stops before
// any write.
func TestRegionWriteFollowsTheImagesLayout(t *testing.T) {
	rom := mkrom(t, "ifdrom", size4M, strings.Split(x200Config, "\n")...)
	img := mustRead(t, rom)
	chip := moveBIOS(FactoryImage(img))

	r := newFakeRun(t, "debian-thinkpad-legacy", rom, chip)
	s, err := r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultOK, 0, img)
	plans := r.ev.payloads(TypePlan)
	if len(plans) != 2 || plans[0].(*Plan).Region != RegionBIOS || plans[1].(*Plan).Region != RegionFull ||
		plans[1].(*Plan).RegionReason != RegionLayoutDiffers || len(plans[1].(*Plan).Layout) == 0 {
		t.Errorf("plans %+v", plans)
	}
	if r.f.writes[0].Region {
		t.Error("a region write by the chip's layout")
	}

	r = newFakeRun(t, "debian-thinkpad-legacy", rom, chip)
	r.opts.Region = "bios"
	s, err = r.install(t, context.Background())
	wantEnd(t, r, s, err, ResultBlocked, exitcode.Blocked, chip)
	if len(r.f.writes) != 0 || !strings.Contains(err.Error(), "elsewhere than the chip's") {
		t.Errorf("writes %+v, err %v", r.f.writes, err)
	}
}
