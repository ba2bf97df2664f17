package host

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"libreflash/internal/kcmdline"
)

// fixtureRoot writes files (host path → content) below a new root.
func fixtureRoot(t *testing.T, files map[string]string) Root {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return Root(root)
}

// TestKernelBelowRoot: the running kernel's state is read below the root,
// so a fixture stands for it (values no real host has), and what is
// missing there is missing, whatever the host has.
func TestKernelBelowRoot(t *testing.T) {
	r := fixtureRoot(t, map[string]string{
		"/proc/cmdline":                   "BOOT_IMAGE=/vmlinuz ro \"x=a b\" iomem=relaxed -- iomem=strict\n",
		"/proc/modules":                   "zz_fixture_mod 16384 0 - Live 0x0\n\nlpc_ich 28672 0 - Live 0x0\n",
		"/proc/sys/kernel/random/boot_id": "00000000-fixture-boot\n",
		"/proc/sys/kernel/osrelease":      "6.1.0-fixture\n",
	})
	p, err := r.Cmdline()
	if err != nil {
		t.Fatal(err)
	}
	if !kcmdline.Has(p, "iomem", "relaxed") || kcmdline.Has(p, "iomem", "strict") || !kcmdline.Has(p, "x", "a b") {
		t.Errorf("cmdline %+v", p)
	}
	if m, err := r.Modules(); err != nil || !reflect.DeepEqual(m, []string{"zz_fixture_mod", "lpc_ich"}) {
		t.Errorf("modules %q, %v", m, err)
	}
	if id, rel := r.BootID(), r.KernelRelease(); id != "00000000-fixture-boot" || rel != "6.1.0-fixture" {
		t.Errorf("boot id %q, release %q", id, rel)
	}

	empty := Root(t.TempDir())
	if _, err := empty.Cmdline(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cmdline of an empty root: %v, want not exist", err)
	}
	if m, err := empty.Modules(); !errors.Is(err, fs.ErrNotExist) || m != nil {
		t.Errorf("modules of an empty root: %q, %v", m, err)
	}
	if id, rel := empty.BootID(), empty.KernelRelease(); id != "" || rel != "" {
		t.Errorf("empty root: boot id %q, release %q", id, rel)
	}
}

// TestReadFileBounded: a file larger than MaxRead is read only that far.
func TestReadFileBounded(t *testing.T) {
	r := Root(t.TempDir())
	if err := os.MkdirAll(r.Path("/proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Path("/proc/modules"), make([]byte, MaxRead+10), 0o444); err != nil {
		t.Fatal(err)
	}
	if b, err := r.ReadFile("/proc/modules"); err != nil || len(b) != MaxRead {
		t.Errorf("read %d bytes, %v; want %d", len(b), err, MaxRead)
	}
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (a) b) (c) S 1 4240 4240 0 -1 4194560 99 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10 18446744073709551615\n"
	st, ok := ParseProcStat([]byte(line))
	if !ok || st != (ProcStat{Comm: "a) b) (c", State: "S", PPID: 1, PGRP: 4240, Start: 123456}) {
		t.Errorf("%+v %v", st, ok)
	}
	for _, bad := range []string{"", "4242 comm S 1", "4242 (x) S 1 2", "4242 (x) S p 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"} {
		if _, ok := ParseProcStat([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// TestReadProcStatLive: the live process table gives this process's own
// parent and process group.
func TestReadProcStatLive(t *testing.T) {
	if _, err := os.Stat(ProcDir(os.Getpid())); err != nil {
		t.Skip("no /proc")
	}
	st, err := ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() || st.PGRP != syscall.Getpgrp() || st.Start == 0 || st.State == "" {
		t.Errorf("%+v: want ppid %d, pgrp %d", st, os.Getppid(), syscall.Getpgrp())
	}
	found := false
	for _, pid := range PIDs() {
		found = found || pid == os.Getpid()
	}
	if !found {
		t.Error("PIDs lacks this process")
	}
	if _, err := os.Stat(SelfFD(0)); err != nil {
		t.Errorf("SelfFD(0): %v", err)
	}
}
