#!/usr/bin/env bash
# Runs the GOARCH=386 unit tests (-short) where this host cannot execute
# 32-bit binaries: inside one real-kernel guest (Debian's amd64 kernel, which
# has IA32 emulation, under qemu-system-x86_64, as scripts/vmtest.sh boots
# it). Each package's test binary runs from its package directory in a copy
# of the repository at the same absolute path, and
# with the host's flashrom and coreboot-utils; every package's output and
# exit status come back over the second serial port. Fails when any package
# fails or does not report.
#
#   scripts/test386.sh [--out DIR] [--timeout SECS] [-v] [PKG...]
#
#   -v             run the tests with -test.v (OUT/<pkg>/test.out lists skips)
#   --out DIR      where results go (default: a temp dir, removed at the end
#                  unless the run failed)
#   --timeout S    bound for the guest (default 1500 under TCG, 300 under KVM)
#   PKG...         packages to test (default ./...; those without tests are
#                  left out)
#
# Accelerator as in scripts/vmtest.sh: KVM when it can run the guest, else
# TCG; VMTEST_ACCEL=kvm|tcg forces one.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/vmlib.sh
vm_tag=test386

out="" timeout_s="" verbose=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -v) verbose=-test.v; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) vm_die "unknown argument: $1" ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- ./...

ensure_go
ensure_pkgs qemu-system-x86 busybox-static cpio flashrom coreboot-utils
[ "$(uname -m)" = x86_64 ] || vm_die "the guest runs an amd64 kernel and this host's amd64 flashrom; needs an x86_64 host"

t0=$SECONDS
vm_kernel
vm_accel
[ -n "$timeout_s" ] || { [ "$accel" = kvm ] && timeout_s=300 || timeout_s=1500; }
vm_tcg_scale=5 # a KVM boot that falls back to TCG (scripts/vmlib.sh vm_qemu)
vm_log "kernel $rel, accel $accel, timeout ${timeout_s}s"

work=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-test386.XXXXXX")
keep=0 # a failed run keeps its results (and the guest's console) for a look
trap '[ "$keep" = 1 ] || rm -rf "$work"' EXIT
[ -n "$out" ] || out="$work/out"
mkdir -p "$out"

root="$work/root"
vm_rootfs "$root"
mkdir -p "$root/t"

# --- test binaries: one per package with tests, named after its directory.
repo=$(pwd -P)
mapfile -t dirs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' "$@")
[ ${#dirs[@]} -gt 0 ] || vm_die "no packages with tests in $*"
vm_log "building ${#dirs[@]} test binaries (GOARCH=386)"
pids=()
for d in "${dirs[@]}"; do
  p=${d#"$repo"/}; [ "$d" = "$repo" ] && p=.
  echo "$p" >>"$root/t/list"
  CGO_ENABLED=0 GOARCH=386 go test -c -o "$root/t/${p//\//_}.test" "./$p" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || vm_die "building a 386 test binary failed"; done

# --- the repository at the same absolute path: tests read testdata,
# ../ paths and the source paths runtime.Caller reports (testdata/flashers
# through internal/testutil).
mkdir -p "$root$repo"
{ git ls-files -co --exclude-standard 2>/dev/null || find . -name .git -prune -o -type f -print; } | while read -r f; do
  if [ -e "$f" ]; then printf '%s\0' "$f"; fi
done | tar -c --null -T - -f - | tar -x -C "$root$repo"
env=()
{ echo "REPO='$repo' VERBOSE='$verbose'"; for e in "${env[@]}"; do echo "export '$e'"; done; } >"$root/t/env"

# --- the tools tests run for real, with their libraries, at their host
# paths: flashrom and coreboot-utils; procps's ps (busybox's has no -p)
# and pgrep, util-linux's flock (Debian's busybox has neither applet);
# and the host's /bin/sh, because busybox sh runs applets such as grep
# inside itself with its own SIGQUIT disposition, which the runner's
# signal tests would then see instead of their child's.
sh=$(readlink -f /bin/sh)
for tool in flashrom cbfstool ifdtool fmaptool ps pgrep flock bash "$sh"; do
  p=$(command -v "$tool") || vm_die "$tool not installed"
  vm_add_exe "$root" "$p"
done
echo "HOST_SH='$sh'" >>"$root/t/env"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'user:x:1000:1000:user:/scratch:/bin/sh' >>"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Guest side of scripts/test386.sh: every test binary in /t, from its
# package directory; its output goes to /dev/ttyS1 as
# "=== BEGIN pkg/test.out ===", gzip+base64, "=== END pkg/test.out rc=N ===".
/bin/busybox --install -s /bin
. /t/env
# The host's tools in /usr first; busybox's applets, all in /bin, after.
ln -sf "$HOST_SH" /bin/sh
# Scratch space is /scratch, not /tmp: the repository itself may live under
# /tmp (a CI clone), and a tmpfs there would hide it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/scratch TMPDIR=/scratch
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t securityfs none /sys/kernel/security
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mkdir -p /scratch /tmp && chmod 1777 /tmp
mount -t tmpfs -o size=75% scratch /scratch
chmod 1777 /scratch
R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
emit() { # name file rc
  { echo "=== BEGIN $1 ==="; gzip -c "$2" | base64; echo "=== END $1 rc=$3 ==="; } >$R
}
echo "test386-guest: $(uname -r) $(uname -m), $(nproc) CPUs"
start=$(date +%s)
# One package at a time: two at once on the two vCPUs took as long under
# TCG, and made timing-bound testscripts (backup_signal) miss their window.
for p in $(cat /t/list); do
  t0=$(date +%s) rc=0
  cd "$REPO/$p"
  timeout 300 "/t/$(echo "$p" | tr / _).test" -test.short -test.count=1 -test.timeout=280s $VERBOSE \
    >/run/test.out 2>&1 </dev/null || rc=$?
  cd /
  echo "$p rc=$rc $(($(date +%s) - t0))s" >>/run/summary
  echo "test386-guest: $p rc=$rc in $(($(date +%s) - t0))s"
  emit "$p/test.out" /run/test.out $rc
  rm -rf /scratch/* 2>/dev/null
done
echo "all $(($(date +%s) - start))s" >>/run/summary
emit test386/summary /run/summary 0
echo "=== DONE ===" >$R
sync
poweroff -f
EOF
chmod 755 "$root/init"
vm_cpio "$root" "$work/initrd.cpio"
vm_log "initramfs $(du -h "$work/initrd.cpio" | cut -f1), ready in $((SECONDS - t0))s"

# Two vCPUs when the host has them: TCG runs one vCPU per host thread.
smp=$(nproc); [ "$smp" -gt 2 ] && smp=2 || true
vm_qemu 386 "$out/boot" "$timeout_s" -M "$vm_machine" -accel "$accel" -cpu "$vm_cpu" -m 1536 -smp "$smp" \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 quiet no_timer_check" &
qpid=$!
# The guest's per-package lines, as they come, so that the minutes in the
# guest are not silent; tail ends with the boot.
mkdir -p "$out/boot"; touch "$out/boot/console.log"
tail -n +1 -F --pid="$qpid" "$out/boot/console.log" 2>/dev/null |
  grep --line-buffered '^test386-guest: ' | sed -u 's/\r$//; s/^test386-guest: /test386: guest: /' >&2 || true
wait "$qpid"

fail=0
if ! vm_finished "$out/boot"; then
  vm_log "the guest did not finish (qemu exit $(cat "$out/boot/qemu.rc")); console tail:"
  tail -n 40 "$out/boot/console.log" >&2 || true
  vm_log "qemu's own output:"
  tail -n 20 "$out/boot/qemu.out" >&2 || true
  fail=1
fi
vm_results "$out/boot/results.txt" "$out"
vm_decode "$out"
while read -r p; do
  r="$out/$p/test.out"
  secs=$(awk -v p="$p" '$1 == p {print $3}' "$out/test386/summary" 2>/dev/null || true)
  if [ ! -e "$r.rc" ]; then
    echo "FAIL	$p	(no result from the guest)"
    fail=1
  elif [ "$(cat "$r.rc")" != 0 ]; then
    echo "FAIL	$p	(exit $(cat "$r.rc"), ${secs:-?})"
    sed 's/^/    /' "$r"
    fail=1
  else
    echo "ok	$p	${secs:-?}"
  fi
done <"$root/t/list"
vm_log "guest run $(awk '$1 == "all" {print $2}' "$out/test386/summary" 2>/dev/null || echo ?), whole script $((SECONDS - t0))s"
if [ "$fail" != 0 ]; then
  [ "$out" = "$work/out" ] && keep=1
  vm_die "386 tests failed in the guest; results kept in $out (console: $out/boot/console.log)"
fi
