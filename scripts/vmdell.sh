#!/usr/bin/env bash
# One QEMU q35 (ICH9) guest with a Dell Latitude E6400's SMBIOS identity and
# Dell's BIOS vendor string: libreflash's board check and its read-only
# lock-state probes (HSFS via RCBA and /dev/mem, SMI_EN by port read,
# GEN_PMCON_1 and BIOS_CNTL from PCI config) run on a real kernel against
# the real emulated chipset. Results come back over the second serial port
# (scripts/vmlib.sh's marker protocol) into OUT/dell/. The assertions live
# in internal/vmtest/dell_test.go.
#
#   scripts/vmdell.sh [--out DIR] [--timeout SECS]
#
# Nothing writes a flash chip (q35 has none) and no unlock tool runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/vmlib.sh
vm_tag=vmdell

out="" timeout_s=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vmdell: unknown argument: $1" >&2; exit 2 ;;
  esac
done
ensure_go
ensure_pkgs qemu-system-x86 busybox-static cpio flashrom
[ "$(uname -m)" = x86_64 ] || vm_die "needs an x86_64 host"
vm_kernel
vm_accel
[ -n "$timeout_s" ] || { [ "$accel" = kvm ] && timeout_s=120 || timeout_s=600; }
vm_tcg_scale=5

work=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmdell.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmdell-out.XXXXXX")
mkdir -p "$out"

root="$work/root"
vm_rootfs "$root"
CGO_ENABLED=0 go build -trimpath -o "$root/bin/libreflash" ./cmd/libreflash
flashrom=$(command -v flashrom)
vm_add_exe "$root" "$flashrom"
[ "$flashrom" = /usr/sbin/flashrom ] || { mkdir -p "$root/usr/sbin"; mv "$root$flashrom" "$root/usr/sbin/flashrom"; }
cp "$kconfig" "$root/boot/"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t securityfs none /sys/kernel/security
R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
emit() { { echo "=== BEGIN $1 ==="; gzip -c "$2" | base64; echo "=== END $1 rc=$3 ==="; } >$R; }
step() {
  name=$1; shift
  rc=0
  timeout 120 "$@" >/tmp/step.out 2>&1 </dev/null || rc=$?
  emit "dell/$name" /tmp/step.out $rc
}
step check.txt libreflash check
step check.json libreflash check --json
cat /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name /sys/class/dmi/id/bios_vendor >/tmp/dmi 2>&1
emit dell/dmi /tmp/dmi 0
echo "=== DONE ===" >$R
sync
poweroff -f
EOF
chmod 755 "$root/init"
vm_cpio "$root" "$work/initrd.cpio"

vm_qemu dell "$out/boot-dell" "$timeout_s" -M "$vm_machine" -accel "$accel" -cpu "$vm_cpu" -m 512 -smp 1 \
  -smbios "type=0,vendor=Dell Inc.,version=A34,date=12/19/2012" \
  -smbios "type=1,manufacturer=Dell Inc.,product=Latitude E6400" \
  -kernel "$vmlinuz" -initrd "$work/initrd.cpio" \
  -append "console=ttyS0 panic=-1 nokaslr no_timer_check iomem=relaxed"
vm_finished "$out/boot-dell" || { tail -n 40 "$out/boot-dell/console.log" >&2; vm_die "the guest did not finish"; }
vm_results "$out/boot-dell/results.txt" "$out"
vm_decode "$out"
vm_log "results in $out"
