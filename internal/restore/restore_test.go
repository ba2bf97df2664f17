package restore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// env is a fake root with a Manager and recording tools.
type env struct {
	f     family
	root  string
	state string
	cmd   *fakeCmd
	m     *Manager
}

func newEnv(t testing.TB, f family) *env {
	t.Helper()
	root := makeRoot(t, f)
	e := &env{f: f, root: root, state: filepath.Join(t.TempDir(), "state")}
	e.cmd = newFakeCmd(t, root)
	// The generated grub.cfg is what grub-mkconfig makes of the shipped
	// defaults, so a round trip must give the same bytes back.
	if _, ok := f.files["/boot/grub/grub.cfg"]; ok {
		if err := e.cmd.mkconfig("/boot/grub/grub.cfg"); err != nil {
			t.Fatal(err)
		}
	}
	e.m = e.manager()
	return e
}

func (e *env) manager() *Manager {
	m := New(e.root, e.state)
	m.Cmd = e.cmd
	m.TrustedUID = os.Geteuid()
	m.GOOS = "linux"
	n := 0
	m.Now = func() time.Time { n++; return time.Date(2026, 11, 23, 13, 0, n, 0, time.UTC) }
	return m
}

func (e *env) actions() []string {
	if e.f.actions != nil {
		return e.f.actions
	}
	if strings.Contains(e.f.name, "bsd") {
		return []string{ActionSecurelevel}
	}
	return []string{ActionIomem, ActionDrivers}
}

func allFamilies() []family { return append(families(), bsdFamilies...) }

func (e *env) prepare(t testing.TB) *Plan {
	t.Helper()
	p, err := e.m.PlanActions(context.Background(), e.actions())
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if err := e.m.Apply(context.Background(), p); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p
}

func (e *env) journal(t testing.TB) *Journal {
	t.Helper()
	j, err := e.m.Journal()
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestRoundTrip: prepare then restore leaves every file byte-identical with
// the same mode and owner, on every distribution family; in between, the
// change is where that distribution expects it.
func TestRoundTrip(t *testing.T) {
	for _, f := range allFamilies() {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f)
			before := snapshotTree(t, e.root)
			p := e.prepare(t)
			if f.backend == BackendUnknownBoot {
				if p.Steps[0].Status != "manual" || len(p.Steps[0].Manual) == 0 {
					t.Fatalf("unknown boot loader: step %+v", p.Steps[0])
				}
			} else if p.Steps[0].Status != "applied" || p.Steps[0].Backend != f.backend {
				t.Fatalf("step 0: %+v, want applied via %s", p.Steps[0], f.backend)
			}
			checkPrepared(t, e)
			j := e.journal(t)
			for _, en := range j.Entries {
				if en.State != StateApplied {
					t.Errorf("entry %s state %s", en.ID, en.State)
				}
			}
			// Preparing again finds everything done and journals nothing new.
			p2, err := e.m.PlanActions(context.Background(), e.actions())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p2.Steps {
				if s.Status == "planned" {
					t.Errorf("second prepare plans %s again", s.Action)
				}
			}
			res, err := e.m.Restore(context.Background())
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if len(res.Undone) != len(j.Entries) {
				t.Errorf("undone %d of %d entries", len(res.Undone), len(j.Entries))
			}
			diffTrees(t, before, snapshotTree(t, e.root))
			if e.cmd.read("/proc/modules") != e.f.files["/proc/modules"] && e.cmd.read("/proc/modules") != linuxCommon["/proc/modules"] {
				t.Errorf("/proc/modules after restore:\n%s", e.cmd.read("/proc/modules"))
			}
			if _, err := os.Stat(filepath.Join(e.state, "journal.json")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left after restore: %v", err)
			}
			// Idempotent: a second restore does nothing and runs nothing.
			n := len(e.cmd.calls)
			res, err = e.m.Restore(context.Background())
			if err != nil || len(res.Undone) != 0 || len(e.cmd.calls) != n {
				t.Errorf("second restore: %+v %v, calls %v", res, err, e.cmd.calls[n:])
			}
		})
	}
}

// checkPrepared asserts each family's change, as that distribution has it.
func checkPrepared(t *testing.T, e *env) {
	t.Helper()
	calls := fmt.Sprint(e.cmd.calls)
	grubCfg := e.cmd.read("/boot/grub/grub.cfg")
	switch e.f.name {
	case "debian", "ubuntu":
		if e.cmd.read(grubDropinPath) != grubDropin {
			t.Errorf("drop-in: %q", e.cmd.read(grubDropinPath))
		}
		if e.cmd.read("/etc/default/grub") != e.f.files["/etc/default/grub"] {
			t.Errorf("/etc/default/grub was edited where a drop-in works")
		}
		want := map[string]string{"debian": "ro  quiet iomem=relaxed", "ubuntu": "ro  quiet splash iomem=relaxed"}[e.f.name]
		if !strings.Contains(grubCfg, want) {
			t.Errorf("grub.cfg has not got %q:\n%s", want, grubCfg)
		}
		if !strings.Contains(calls, "[/usr/sbin/update-grub]") {
			t.Errorf("update-grub not run: %s", calls)
		}
	case "arch":
		want := strings.Replace(archGrub, `"loglevel=3 quiet"`, `"loglevel=3 quiet iomem=relaxed"`+"\n"+grubMarker, 1)
		if got := e.cmd.read("/etc/default/grub"); got != want {
			t.Errorf("/etc/default/grub:\n%s", got)
		}
		if !strings.Contains(grubCfg, "loglevel=3 quiet iomem=relaxed") {
			t.Errorf("grub.cfg:\n%s", grubCfg)
		}
		if !strings.Contains(calls, "[/usr/bin/grub-mkconfig -o /boot/grub/grub.cfg]") {
			t.Errorf("grub-mkconfig not run: %s", calls)
		}
	case "fedora":
		if !strings.Contains(calls, "[/usr/sbin/grubby --update-kernel=ALL --args=iomem=relaxed]") {
			t.Errorf("calls: %s", calls)
		}
		if !strings.Contains(e.cmd.read("/boot/loader/entries/0b9e-6.11.conf"), "rhgb quiet iomem=relaxed\n") {
			t.Errorf("entry: %s", e.cmd.read("/boot/loader/entries/0b9e-6.11.conf"))
		}
	case "popos":
		if !strings.Contains(calls, "[/usr/bin/kernelstub -a iomem=relaxed]") {
			t.Errorf("calls: %s", calls)
		}
	case "silverblue":
		if !strings.Contains(calls, "[/usr/bin/rpm-ostree kargs --append-if-missing=iomem=relaxed]") {
			t.Errorf("calls: %s", calls)
		}
	case "sdboot-kernel-install":
		if e.cmd.read("/etc/kernel/cmdline") != "root=UUID=0b9e rw quiet iomem=relaxed\n" {
			t.Errorf("/etc/kernel/cmdline: %q", e.cmd.read("/etc/kernel/cmdline"))
		}
		if !strings.Contains(e.cmd.read("/efi/loader/entries/0b9e-6.1.0-27-amd64.conf"), "quiet iomem=relaxed") {
			t.Errorf("kernel-install did not rewrite the entry: %s", calls)
		}
	case "sdboot-entries":
		if got := e.cmd.read("/boot/loader/entries/arch.conf"); !strings.HasSuffix(got, "rw iomem=relaxed\n") {
			t.Errorf("default entry: %s", got)
		}
		if got := e.cmd.read("/boot/loader/entries/arch-fallback.conf"); strings.Contains(got, "iomem") {
			t.Errorf("non-default entry edited: %s", got)
		}
	case "openbsd", "openbsd-none", "netbsd":
		file := map[bool]string{true: netbsdRcConfPath, false: openbsdSecurelevelPath}[e.f.name == "netbsd"]
		got := e.cmd.read(file)
		if !strings.HasSuffix(got, securelevelLine+"\n") || !strings.HasPrefix(got, e.f.files[file]) {
			t.Errorf("%s:\n%s", file, got)
		}
		if lastSecurelevel([]byte(got)) != "-1" {
			t.Errorf("securelevel not -1")
		}
	}
	if !strings.Contains(e.f.name, "bsd") {
		if !strings.Contains(calls, "modprobe -r spi_intel_pci spi_intel lpc_ich]") {
			t.Errorf("modprobe -r not run as expected: %s", calls)
		}
		if strings.Contains(e.cmd.read("/proc/modules"), "lpc_ich") {
			t.Errorf("lpc_ich still loaded")
		}
	}
}

// TestToolFailureUndoesHalfwayApply: a boot loader tool failing after the
// file was written takes the file back, leaves no journal entry, and says
// which command failed.
func TestToolFailureUndoesHalfwayApply(t *testing.T) {
	for _, tc := range []struct{ family, tool string }{
		{"debian", "update-grub"}, {"arch", "grub-mkconfig"}, {"fedora", "grubby"},
		{"popos", "kernelstub"}, {"silverblue", "rpm-ostree"}, {"sdboot-kernel-install", "kernel-install"},
		{"debian", "modprobe"},
	} {
		t.Run(tc.family+"/"+tc.tool, func(t *testing.T) {
			e := newEnv(t, familyNamed(tc.family))
			before := snapshotTree(t, e.root)
			e.cmd.fail[tc.tool] = 1
			if tc.tool == "rpm-ostree" {
				e.cmd.fail[tc.tool] = 2 // the first call reads kargs
			}
			p, err := e.m.PlanActions(context.Background(), e.actions())
			if err != nil {
				t.Fatal(err)
			}
			err = e.m.Apply(context.Background(), p)
			var te *ToolError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), tc.tool) {
				t.Fatalf("apply: %v, want a ToolError naming %s", err, tc.tool)
			}
			j := e.journal(t)
			if tc.tool == "modprobe" {
				// iomem-relaxed went through before; it stays journaled.
				if len(j.Entries) != 1 || j.Entries[0].Action != ActionIomem {
					t.Fatalf("journal: %+v", j.Entries)
				}
				if _, err := e.m.Restore(context.Background()); err != nil {
					t.Fatal(err)
				}
			} else if len(j.Entries) != 0 {
				t.Fatalf("journal after failed apply: %+v", j.Entries)
			}
			diffTrees(t, before, snapshotTree(t, e.root))
		})
	}
}

// TestUndoFailureKeepsEntry: when the undo after a failed apply fails too,
// the entry stays for restore, which then completes it.
func TestUndoFailureKeepsEntry(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	before := snapshotTree(t, e.root)
	e.cmd.fail["update-grub"] = 1
	p, _ := e.m.PlanActions(context.Background(), []string{ActionIomem})
	e.cmd.seen["update-grub"] = 0
	// Fail the apply's update-grub and the undo's.
	e.cmd.fail["update-grub"] = 1
	calls := 0
	e.m.Cmd = cmdFunc(func(ctx context.Context, argv []string) ([]byte, error) {
		calls++
		if calls <= 2 {
			return nil, &ToolError{Argv: argv, Code: 1}
		}
		e.cmd.fail = map[string]int{}
		return e.cmd.Run(ctx, argv)
	})
	err := e.m.Apply(context.Background(), p)
	if err == nil || !strings.Contains(err.Error(), "undoing it also failed") {
		t.Fatalf("apply: %v", err)
	}
	j := e.journal(t)
	if len(j.Entries) != 1 || j.Entries[0].State != StateUndoing {
		t.Fatalf("journal: %+v", j.Entries)
	}
	if _, err := e.m.Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, before, snapshotTree(t, e.root))
}

type cmdFunc func(ctx context.Context, argv []string) ([]byte, error)

func (f cmdFunc) Run(ctx context.Context, argv []string) ([]byte, error) { return f(ctx, argv) }

func familyNamed(name string) family {
	for _, f := range allFamilies() {
		if f.name == name {
			return f
		}
	}
	panic("no family " + name)
}

// TestEditedSinceFallback: a file the user edited after prepare keeps the
// user's edit; only libreflash's argument or line is taken out.
func TestEditedSinceFallback(t *testing.T) {
	for _, tc := range []struct {
		family, file, edit, want string
	}{
		{"arch", "/etc/default/grub", "GRUB_TIMEOUT=5", "GRUB_TIMEOUT=10"},
		{"sdboot-entries", "/boot/loader/entries/arch.conf", "title      Arch Linux", "title      Arch"},
		{"netbsd", "/etc/rc.conf", "hostname=x200", "hostname=t400"},
	} {
		t.Run(tc.family, func(t *testing.T) {
			e := newEnv(t, familyNamed(tc.family))
			orig := e.cmd.read(tc.file)
			e.prepare(t)
			edited := strings.Replace(e.cmd.read(tc.file), tc.edit, tc.want, 1)
			e.cmd.write(tc.file, edited)
			if _, err := e.m.Restore(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got, want := e.cmd.read(tc.file), strings.Replace(orig, tc.edit, tc.want, 1); got != want {
				t.Errorf("after restore:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestInsecureToolRefused: a tool in a directory others can write is not
// run, and nothing is changed.
func TestInsecureToolRefused(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	before := snapshotTree(t, e.root)
	os.Chmod(filepath.Join(e.root, "usr/sbin"), 0o777)
	defer os.Chmod(filepath.Join(e.root, "usr/sbin"), 0o755)
	_, err := e.m.PlanActions(context.Background(), []string{ActionIomem})
	var tp *ToolPathError
	if !errors.As(err, &tp) || tp.ExitCode() != 3 {
		t.Fatalf("plan: %v, want ToolPathError", err)
	}
	os.Chmod(filepath.Join(e.root, "usr/sbin"), 0o755)
	diffTrees(t, before, snapshotTree(t, e.root))
	if len(e.cmd.calls) != 0 {
		t.Errorf("ran %v", e.cmd.calls)
	}
}

// TestDriversAfterReboot: after a reboot the kernel loaded the drivers
// itself; restore has nothing to run for them.
func TestDriversAfterReboot(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	p, _ := e.m.PlanActions(context.Background(), []string{ActionDrivers})
	if err := e.m.Apply(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	e.cmd.write("/proc/sys/kernel/random/boot_id", "new-boot\n")
	e.cmd.write("/proc/modules", procModules)
	n := len(e.cmd.calls)
	res, err := e.m.Restore(context.Background())
	if err != nil || len(res.Undone) != 1 || res.Reboot {
		t.Fatalf("restore: %+v %v", res, err)
	}
	if len(e.cmd.calls) != n {
		t.Errorf("ran %v after reboot", e.cmd.calls[n:])
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, familyNamed("fedora"))
	e.prepare(t)
	os.MkdirAll(filepath.Join(e.state, "runs/20261123T120000Z"), 0o700)
	os.WriteFile(filepath.Join(e.state, "runs/20261123T120000Z/events.jsonl"),
		[]byte(`{"type":"stage","stage":"backup","status":"start"}`+"\n"+`{"type":"summary","result":"prepared","exit":6}`+"\n"), 0o600)
	os.MkdirAll(filepath.Join(e.state, "backups/20261123T120100Z-x200"), 0o700)
	os.WriteFile(filepath.Join(e.state, "backups/20261123T120100Z-x200/manifest.json"), []byte(`{"format":1,"verified":true,"sha256":"ABCD","size":8388608,"board":"x200"}`), 0o600)
	st, err := e.m.Status()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Pending) != 2 || st.Pending[0].Action != ActionIomem || *st.Pending[0].InEffect {
		t.Errorf("pending: %+v", st.Pending)
	}
	if !*st.Pending[1].InEffect {
		t.Errorf("drivers unloaded but not in effect: %+v", st.Pending[1])
	}
	if len(st.Runs) != 1 || st.Runs[0].Result != "prepared" || *st.Runs[0].Exit != 6 {
		t.Errorf("runs: %+v", st.Runs)
	}
	if len(st.Backups) != 1 || st.Backups[0].SHA256 != "abcd" || st.Backups[0].Size != 8388608 || !st.Backups[0].Verified || st.Backups[0].Board != "x200" {
		t.Errorf("backups: %+v", st.Backups)
	}
	// After the reboot: iomem=relaxed is on the running kernel.
	e.cmd.write("/proc/cmdline", "BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=UUID=5f3c ro rhgb quiet iomem=relaxed\n")
	st, _ = e.m.Status()
	if !st.Kernel.IomemRelaxed || !*st.Pending[0].InEffect {
		t.Errorf("after reboot: %+v", st)
	}
}

// derive maps failing checks to actions and notes; whether iomem=relaxed is
// in effect and drivers are loaded come from the facts (DeriveFromReport).
func TestDerive(t *testing.T) {
	d := derive([]Check{{"root", "pass"}, {"devmem", "fail"}, {"lockdown", "fail"}}, false, true)
	if fmt.Sprint(d.Actions) != "[iomem-relaxed unload-drivers]" || len(d.Notes) != 1 || d.Notes[0] != NoteLockdown {
		t.Errorf("derive: %+v", d)
	}
	d = derive([]Check{{"devmem", "pass"}, {"secureboot", "fail"}, {"lockdown", "fail"}}, false, true)
	if len(d.Actions) != 0 || len(d.Notes) != 1 || d.Notes[0] != NoteSecureBoot {
		t.Errorf("derive: %+v", d)
	}
	d = derive([]Check{{"bsd_securelevel", "fail"}}, false, false)
	if fmt.Sprint(d.Actions) != "[bsd-securelevel]" {
		t.Errorf("derive: %+v", d)
	}
	if d := derive([]Check{{"devmem", "fail"}}, true, true); fmt.Sprint(d.Actions) != "[unload-drivers]" {
		t.Errorf("derive with iomem=relaxed on: %+v", d)
	}
	if d := derive([]Check{{"devmem", "fail"}}, false, false); fmt.Sprint(d.Actions) != "[iomem-relaxed]" {
		t.Errorf("derive without drivers: %+v", d)
	}
}

func TestUnknownAction(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	_, err := e.m.PlanActions(context.Background(), []string{"disable-secureboot"})
	var ua *UnknownActionError
	if !errors.As(err, &ua) || ua.ExitCode() != 2 {
		t.Fatalf("%v", err)
	}
}

// Crash simulation. The helper process (TestMain, below) prepares or
// restores a fake root and exits hard (os.Exit, no deferred cleanup) at the
// nth step of Apply or Undo. The test then runs restore in a new Manager, as
// the next libreflash run would, and requires the root to be as before.

const crashEnv = "LIBREFLASH_RESTORE_CRASH_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashHelper(spec))
	}
	os.Exit(m.Run())
}

type crashSpec struct {
	Family, Root, State, Op string
	At                      int
	Step                    string // crash at the first step of this name instead
}

// crashExit is the status of a simulated crash.
const crashExit = 77

func crashHelper(spec string) int {
	var s crashSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	t := &testing.T{}
	e := &env{f: familyNamed(s.Family), root: s.Root, state: s.State}
	e.cmd = newFakeCmd(t, s.Root)
	e.m = e.manager()
	n := 0
	e.m.hook = func(step string) {
		n++
		if n == s.At || step == s.Step {
			fmt.Fprintf(os.Stderr, "crash at %s\n", step)
			os.Exit(crashExit)
		}
	}
	ctx := context.Background()
	var err error
	switch s.Op {
	case "prepare":
		var p *Plan
		if p, err = e.m.PlanActions(ctx, e.actions()); err == nil {
			err = e.m.Apply(ctx, p)
		}
	case "restore":
		_, err = e.m.Restore(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runCrash(t *testing.T, e *env, op string, at int) (crashed bool) {
	t.Helper()
	spec, _ := json.Marshal(crashSpec{Family: e.f.name, Root: e.root, State: e.state, Op: op, At: at})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ee) && ee.ExitCode() == crashExit:
		return true
	}
	t.Fatalf("helper %s at %d: %v\n%s", op, at, err, out)
	return false
}

func TestCrashAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns many helper processes")
	}
	for _, f := range allFamilies() {
		if f.backend == BackendUnknownBoot {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			// Crash during prepare, then restore.
			for at := 1; ; at++ {
				e := newEnv(t, f)
				before := snapshotTree(t, e.root)
				crashed := runCrash(t, e, "prepare", at)
				if _, err := e.manager().Restore(context.Background()); err != nil {
					t.Fatalf("restore after crash at step %d of prepare: %v", at, err)
				}
				diffTrees(t, before, snapshotTree(t, e.root))
				if !crashed {
					break
				}
				if at > 50 {
					t.Fatal("too many steps")
				}
			}
			// Crash during restore, then restore again.
			for at := 1; ; at++ {
				e := newEnv(t, f)
				before := snapshotTree(t, e.root)
				e.prepare(t)
				crashed := runCrash(t, e, "restore", at)
				if _, err := e.manager().Restore(context.Background()); err != nil {
					t.Fatalf("restore after crash at step %d of restore: %v", at, err)
				}
				diffTrees(t, before, snapshotTree(t, e.root))
				if !crashed {
					break
				}
			}
		})
	}
}

func TestJournalRejects(t *testing.T) {
	e := newEnv(t, familyNamed("arch"))
	e.prepare(t)
	good, err := os.ReadFile(filepath.Join(e.state, "journal.json"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseJournal(good); err != nil {
		t.Fatalf("own journal: %v", err)
	}
	for name, mut := range map[string]func(string) string{
		"version": func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 2`, 1) },
		"state":   func(s string) string { return strings.Replace(s, `"state": "applied"`, `"state": "done"`, 1) },
		"relative": func(s string) string {
			return strings.Replace(s, `"path": "/etc/default/grub"`, `"path": "etc/default/grub"`, 1)
		},
		"dotdot": func(s string) string {
			return strings.Replace(s, `"path": "/etc/default/grub"`, `"path": "/etc/../etc/shadow"`, 1)
		},
		"tool": func(s string) string {
			return strings.Replace(s, `"tool": "/usr/bin/grub-mkconfig"`, `"tool": "grub-mkconfig"`, 1)
		},
		"unknown":   func(s string) string { return strings.Replace(s, `"version": 1`, `"version": 1, "x": 1`, 1) },
		"truncated": func(s string) string { return s[:len(s)/2] },
		"hash": func(s string) string {
			return strings.Replace(s, `"orig_sha256": "`, `"orig_sha256": "0`, 1)
		},
	} {
		bad := mut(string(good))
		if bad == string(good) {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if _, err := ParseJournal([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
		// And restore refuses to act on it.
		os.WriteFile(filepath.Join(e.state, "journal.json"), []byte(bad), 0o600)
		var je *JournalError
		if _, err := e.m.Restore(context.Background()); !errors.As(err, &je) {
			t.Errorf("%s: restore: %v", name, err)
		}
	}
}

func FuzzParseJournal(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/journals/*.json")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"version":1,"entries":[]}`))
	f.Add([]byte(`{"version":1,"entries":[null]}`))
	// A planted journal: another program to run, another file to write.
	f.Add([]byte(`{"version":1,"entries":[{"id":"x","action":"iomem-relaxed","backend":"grub-dropin","state":"applied",` +
		`"created":"2026-01-01T00:00:00Z","param":"iomem=relaxed","undo":[{"tool":"/bin/sh","args":["-c","id"]}],` +
		`"files":[{"path":"/etc/shadow","existed":true,"orig":"","orig_sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","mode":2541,"uid":0,"gid":0,"new_sha256":"","fallback":"delete"}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		j, err := ParseJournal(b)
		if err != nil {
			return
		}
		// What is accepted survives a write and a read unchanged.
		out, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		j2, err := ParseJournal(out)
		if err != nil {
			t.Fatalf("re-read: %v\n%s", err, out)
		}
		out2, _ := json.Marshal(j2)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
		for _, e := range j.Entries {
			for _, fc := range e.Files {
				if !strings.HasPrefix(fc.Path, "/") || strings.Contains(fc.Path, "/../") {
					t.Fatalf("accepted path %q", fc.Path)
				}
				// Only files a backend writes, never with more than
				// permission bits.
				if fc.Path != grubDropinPath && fc.Path != defaultGrubPath && fc.Path != kernelCmdlinePath &&
					!isLoaderEntry(fc.Path) && fc.Path != openbsdSecurelevelPath && fc.Path != netbsdRcConfPath || fc.Mode&^0o777 != 0 {
					t.Fatalf("accepted file %q mode %#o", fc.Path, fc.Mode)
				}
			}
			for _, mod := range e.Modules {
				if !slices.Contains(conflictingModules, mod) && mod != "iTCO_wdt" {
					t.Fatalf("accepted module %q", mod)
				}
			}
		}
	})
}

// TestGrubbyPartialLeftAlone: with iomem=relaxed already in some BLS entries,
// grubby's --remove-args could not restore them exactly; prepare says what
// to do instead and changes nothing.
func TestGrubbyPartialLeftAlone(t *testing.T) {
	e := newEnv(t, familyNamed("fedora"))
	p := "/boot/loader/entries/0b9e-6.10.conf"
	e.cmd.write(p, strings.Replace(e.cmd.read(p), "rhgb quiet", "rhgb quiet iomem=relaxed", 1))
	pl, err := e.m.PlanActions(context.Background(), []string{ActionIomem})
	if err != nil {
		t.Fatal(err)
	}
	if s := pl.Steps[0]; s.Status != "manual" || !strings.Contains(s.Manual[0], "grubby --update-kernel=DEFAULT") {
		t.Errorf("step %+v", s)
	}
}

func TestITCOUnloadedBeforeLpcIch(t *testing.T) {
	e := newEnv(t, familyNamed("debian"))
	e.cmd.write("/proc/modules", "iTCO_wdt 16384 0 - Live 0x0\niTCO_vendor_support 12288 1 iTCO_wdt, Live 0x0\nlpc_ich 28672 0 - Live 0x0\n")
	if got := fmt.Sprint(e.m.ConflictingLoaded()); got != "[iTCO_wdt lpc_ich]" {
		t.Errorf("got %s", got)
	}
	e.cmd.write("/proc/modules", "iTCO_wdt 16384 0 - Live 0x0\n")
	if got := e.m.ConflictingLoaded(); len(got) != 0 {
		t.Errorf("iTCO_wdt alone: %v", got)
	}
}

// TestPrepareAfterInterruptedRun: a half-applied entry left by a crash is
// not mistaken for a done change; prepare refuses until restore finishes it.
func TestPrepareAfterInterruptedRun(t *testing.T) {
	e := newEnv(t, familyNamed("arch"))
	before := snapshotTree(t, e.root)
	if !runCrash(t, e, "prepare", 2) { // after the journal write and the file
		t.Fatal("helper did not crash")
	}
	_, err := e.manager().PlanActions(context.Background(), []string{ActionIomem})
	var ie *InterruptedError
	if !errors.As(err, &ie) || ie.ExitCode() != 3 || ie.State != StateApplying {
		t.Fatalf("plan after crash: %v", err)
	}
	if _, err := e.manager().Restore(context.Background()); err != nil {
		t.Fatal(err)
	}
	diffTrees(t, before, snapshotTree(t, e.root))
	if _, err := e.manager().PlanActions(context.Background(), []string{ActionIomem}); err != nil {
		t.Fatal(err)
	}
}
