//go:build linux

package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeQemu is a stand-in qemu-system-x86_64 for the accelerator logic of
// scripts/vmlib.sh. It logs its arguments to $FAKE_LOG and acts, under
// -accel kvm, as $FAKE_KVM says:
//
//	abort  exits 134 with the message of a KVM that cannot set the CPU
//	       model's MSRs (what this project's CI host does for -cpu max)
//	hang   runs the firmware (prints to the console) but never gets further:
//	       a KVM that starts the machine and hangs the kernel
//	works  keeps running the bare machine; boots a -kernel to its panic
//	       (no root file system) and exits 0; finishes a guest
//	panic  a guest that sent a result, then died (exit 1)
//
// Under TCG it finishes the guest: the last marker on the results port, exit 0.
const fakeQemu = `
echo "$*" >>"$FAKE_LOG"
accel= console= results= kernel=
while [ $# -gt 0 ]; do
  case $1 in
    -accel) accel=$2; shift ;;
    -kernel) kernel=$2; shift ;;
    -serial) if [ -z "$console" ]; then console=${2#file:}; else results=${2#file:}; fi; shift ;;
  esac
  shift
done
if [ "$accel" = kvm ]; then
  case $FAKE_KVM in
    abort)
      echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69" >&2
      echo "qemu-system-x86_64: ../../target/i386/kvm/kvm.c:3183: kvm_buf_set_msrs: Assertion failed." >&2
      kill -ABRT $$ ;;
    hang) [ -n "$console" ] && echo "SeaBIOS (version fake)" >"$console"; sleep 30; exit 0 ;;
    works)
      if [ -z "$kernel" ]; then sleep 30; exit 0; fi
      if [ -z "$results" ]; then echo "Kernel panic - not syncing: VFS: Unable to mount root fs" >"$console"; exit 0; fi ;;
    panic) echo "Kernel panic - not syncing" >"$console"; echo "=== BEGIN s/probes.json ===" >"$results"
      echo "guest died" >&2; exit 1 ;;
  esac
fi
[ -n "$results" ] && echo "=== DONE ===" >"$results"
exit 0
`

// vmlib runs script with scripts/lib.sh and scripts/vmlib.sh sourced and the
// fake qemu first on PATH. kvm says whether the KVM device exists and is
// writable. It returns the combined output and the fake's argument log.
func vmlib(t *testing.T, mode string, kvm bool, script string, env ...string) (out, calls string) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// bash where it is here (the 386 guest has it in /usr/bin only).
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("needs bash")
	}
	if err := os.WriteFile(filepath.Join(bin, "qemu-system-x86_64"), []byte("#!"+bash+fakeQemu), 0o755); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(dir, "kvm")
	if kvm {
		if err := os.WriteFile(dev, nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	logf := filepath.Join(dir, "calls")
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", `set -euo pipefail
. scripts/lib.sh
. scripts/vmlib.sh
vm_tag=test vm_kvm_dev=$FAKE_DEV vm_probe_secs=1 vm_probe_kernel_secs=2 vmlinuz=$WORK/vmlinuz
`+script)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "FAKE_LOG="+logf, "FAKE_KVM="+mode,
		"FAKE_DEV="+dev, "WORK="+dir, "VMTEST_ACCEL=", "VMTEST_CPU=")
	cmd.Env = append(cmd.Env, env...)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	c, _ := os.ReadFile(logf)
	return string(b), string(c)
}

func TestAccelProbe(t *testing.T) {
	for _, tc := range []struct {
		name, mode string
		kvm        bool
		env        []string
		want       string // accel chosen
		probes     int    // qemu runs
		says       string // in the output
	}{
		// A KVM that cannot run -cpu max aborts at the first vCPU reset:
		// the probe must see it, and say what qemu said.
		{name: "kvm aborts", mode: "abort", kvm: true, want: "tcg", probes: 1, says: "kvm_buf_set_msrs"},
		// One that starts the machine but hangs the kernel: the second probe.
		{name: "kvm hangs the kernel", mode: "hang", kvm: true, want: "tcg", probes: 2, says: "did not get to its first panic"},
		{name: "kvm works", mode: "works", kvm: true, want: "kvm", probes: 2},
		{name: "no kvm device", mode: "works", kvm: false, want: "tcg", probes: 0, says: "using TCG"},
		{name: "forced tcg", mode: "works", kvm: true, env: []string{"VMTEST_ACCEL=tcg"}, want: "tcg", probes: 0},
		{name: "forced kvm", mode: "abort", kvm: true, env: []string{"VMTEST_ACCEL=kvm"}, want: "kvm", probes: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, calls := vmlib(t, tc.mode, tc.kvm, `vm_accel; echo "accel=$accel"`, tc.env...)
			if !strings.Contains(out, "accel="+tc.want+"\n") {
				t.Errorf("want accel=%s, got:\n%s", tc.want, out)
			}
			lines := strings.Split(strings.TrimSpace(calls), "\n")
			if calls == "" {
				lines = nil
			}
			if len(lines) != tc.probes {
				t.Fatalf("qemu ran %d times, want %d: %q", len(lines), tc.probes, calls)
			}
			// The probes start the machine and CPU model the boots use,
			// the second with the kernel.
			for i, l := range lines {
				if !strings.Contains(l, "-accel kvm -M q35 -cpu max ") {
					t.Errorf("probe %d did not run the real machine and CPU: %s", i+1, l)
				}
				if i == 1 && !strings.Contains(l, "-kernel ") {
					t.Errorf("second probe boots no kernel: %s", l)
				}
			}
			if tc.says != "" && !strings.Contains(out, tc.says) {
				t.Errorf("output lacks %q:\n%s", tc.says, out)
			}
		})
	}
}

func TestAccelProbeRejectsUnknown(t *testing.T) {
	repo, _ := filepath.Abs(filepath.Join("..", ".."))
	cmd := exec.Command("bash", "-c", `. scripts/lib.sh; . scripts/vmlib.sh; vm_accel; echo "accel=$accel"`)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "VMTEST_ACCEL=hvf")
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "want kvm or tcg") {
		t.Errorf("VMTEST_ACCEL=hvf: err %v, output:\n%s", err, b)
	}
}

func TestQemuFallsBackToTCG(t *testing.T) {
	boot := `vm_qemu g "$WORK/boots/g" 10 -M q35 -accel kvm -cpu max -m 64
echo "rc=$(cat "$WORK/boots/g/qemu.rc")"
if vm_finished "$WORK/boots/g"; then echo finished; fi
`
	runs := func(calls string) []string { return strings.Split(strings.TrimSpace(calls), "\n") }
	for _, tc := range []struct{ name, mode, script string }{
		{"kvm aborts before the guest starts", "abort", boot},
		{"kvm hangs the guest", "hang", strings.Replace(boot, " 10 ", " 1 ", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A second boot beside the first goes straight to TCG.
			out, calls := vmlib(t, tc.mode, true, tc.script+`vm_qemu h "$WORK/boots/h" 10 -M q35 -accel kvm -cpu max -m 64
echo "rc2=$(cat "$WORK/boots/h/qemu.rc")"
`)
			r := runs(calls)
			if len(r) != 3 || !strings.Contains(r[0], "-accel kvm") || !strings.Contains(r[1], "-accel tcg") || !strings.Contains(r[2], "-accel tcg") {
				t.Fatalf("want a KVM boot, its TCG retry, then a TCG boot; got:\n%s", calls)
			}
			for _, want := range []string{"rc=0\n", "finished\n", "retrying under TCG", "rc2=0\n", "KVM failed an earlier boot"} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if tc.mode == "abort" && (!strings.Contains(out, "kvm_buf_set_msrs") || !strings.Contains(out, "up to 30s")) {
				t.Errorf("qemu's words or the longer TCG timeout missing:\n%s", out)
			}
		})
	}
	t.Run("guest sent results, then failed", func(t *testing.T) {
		out, calls := vmlib(t, "panic", true, boot)
		if n := len(runs(calls)); n != 1 {
			t.Fatalf("a guest that sent results was retried (%d runs):\n%s", n, calls)
		}
		for _, want := range []string{"rc=1\n", "qemu said:", "guest died"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "finished") || strings.Contains(out, "retrying") {
			t.Errorf("no retry expected:\n%s", out)
		}
	})
	t.Run("tcg boot is not retried", func(t *testing.T) {
		out, calls := vmlib(t, "abort", true, `vm_qemu g "$WORK/boots/g" 10 -M q35 -accel tcg -cpu max
echo "rc=$(cat "$WORK/boots/g/qemu.rc")"`)
		if len(runs(calls)) != 1 || !strings.Contains(out, "rc=0\n") {
			t.Errorf("calls:\n%s\noutput:\n%s", calls, out)
		}
	})
}
