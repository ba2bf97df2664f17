#!/usr/bin/env bash
# Boots Debian's real kernel under qemu-system-x86_64 -M q35 (Intel ICH9) in
# a few configurations and, in each guest, runs the live probes, real
# flashrom -p internal -r, and libreflash check/diagnose; results come back
# over a second serial port between markers and land in OUT/<scenario>/.
# The assertions live in internal/vmtest (go test runs this script).
#
#   scripts/vmtest.sh [--out DIR] [--capture] [--boots b1,b2] [--timeout SECS]
#
#   --out DIR      where results go (default: a new temp dir, printed at the end)
#   --capture      also refresh internal/preflight/testdata/qemu-q35-*/ (root/
#                  tree, probes.json, flashrom.log and .exit) from the guests
#   --boots LIST   only these boots: bios, lockdown, relaxed, uefi, secureboot
#   --timeout S    bound for each boot (default 600 under TCG, 120 under KVM)
#
# The accelerator is KVM when it can run the guests' machine, CPU model and
# kernel, else TCG (a KVM boot that fails before the guest sends anything is
# retried under TCG); VMTEST_ACCEL=kvm|tcg forces one, VMTEST_CPU replaces
# -cpu max. See docs/development.md.
#
# Nothing is installed on the host but Debian's qemu-system-x86,
# busybox-static, cpio, flashrom and ovmf: the kernel package is fetched
# with apt-get download and unpacked into a cache dir
# (${XDG_CACHE_HOME:-~/.cache}/libreflash-vmtest). No guest writes a flash
# chip: flashrom only reads (-r), and q35 has no SPI chip anyway.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. scripts/vmlib.sh
vm_tag=vmtest

out="" capture=0 boots="secureboot,bios,uefi,lockdown,relaxed" timeout_s=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --capture) capture=1; shift ;;
    --boots) boots=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vmtest: unknown argument: $1" >&2; exit 2 ;;
  esac
done

ensure_go
ensure_pkgs qemu-system-x86 busybox-static cpio flashrom ovmf

log() { vm_log "$@"; }
die() { vm_die "$@"; }

[ "$(uname -m)" = x86_64 ] || die "the guest runs this host's amd64 flashrom; needs an x86_64 host"

vm_kernel
pkg=$kpkg
case ",$boots," in *,secureboot,*)
  shimdir=$(vm_fetch shim-signed)
  grubdir=$(vm_fetch grub-efi-amd64-signed) ;;
esac

# --- accelerator: KVM when it really works, else TCG (scripts/vmlib.sh).
vm_accel
[ -n "$timeout_s" ] || { [ "$accel" = kvm ] && timeout_s=120 || timeout_s=600; }
vm_tcg_scale=5 # a KVM boot that falls back to TCG (scripts/vmlib.sh vm_qemu)
log "kernel $rel, accel $accel, timeout ${timeout_s}s per boot"

work=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmtest.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmtest-out.XXXXXX")
mkdir -p "$out"

# --- initramfs, one for every boot
root="$work/root"
vm_rootfs "$root"
log "building libreflash and guestprobe (static)"
CGO_ENABLED=0 go build -trimpath -o "$root/bin/libreflash" ./cmd/libreflash
CGO_ENABLED=0 go build -trimpath -o "$root/bin/guestprobe" ./internal/vmtest/guestprobe
# flashrom at /usr/sbin/flashrom, with its shared libraries and the loader.
flashrom=$(command -v flashrom)
vm_add_exe "$root" "$flashrom"
[ "$flashrom" = /usr/sbin/flashrom ] || { mkdir -p "$root/usr/sbin"; mv "$root$flashrom" "$root/usr/sbin/flashrom"; }
cp "$kconfig" "$root/boot/"
# Modules: lpc_ich (the driver scenario), the watchdog udev would load for
# it, and efivarfs for the UEFI boot; with their dependencies.
for m in lpc_ich iTCO_wdt efivarfs; do vm_add_module "$root" "$m"; done
vm_depmod "$root"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'user:x:1000:1000:user:/tmp:/bin/sh' >>"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Guest side of scripts/vmtest.sh. Scenarios come from libreflash.vmtest= on
# the kernel command line; each section goes to /dev/ttyS1 as
# "=== BEGIN scenario/name ===", gzip+base64, "=== END scenario/name rc=N ===".
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
chmod 1777 /tmp
mount -t securityfs none /sys/kernel/security
if [ -d /sys/firmware/efi ]; then
  modprobe efivarfs && mount -t efivarfs none /sys/firmware/efi/efivars
fi
R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
rel=$(uname -r)

emit() { # name file rc
  { echo "=== BEGIN $1 ==="; gzip -c "$2" | base64; echo "=== END $1 rc=$3 ==="; } >$R
}
# step NAME CMD...: run CMD as the scenario's user, bounded, and emit its output.
step() {
  name=$1; shift
  rc=0
  timeout 240 $AS "$@" >/tmp/step.out 2>&1 </dev/null || rc=$?
  emit "$S/$name" /tmp/step.out $rc
  echo "vmtest-guest: $S/$name rc=$rc"
}
# grab SRC: copy a host path into the capture tree as the scenario's user
# sees it (a user reads zeros for /proc/iomem addresses, 64 bytes of PCI
# config); unreadable or absent files are left out.
grab() {
  [ -e "$1" ] || return 0
  mkdir -p "/tmp/cap/root$(dirname "$1")"
  $AS cat "$1" >"/tmp/cap/root$1" 2>/dev/null || rm -f "/tmp/cap/root$1"
}
capture() {
  rm -rf /tmp/cap; mkdir -p /tmp/cap/root
  for f in /proc/cmdline /proc/iomem /proc/modules /proc/sys/kernel/osrelease \
      /sys/kernel/security/lockdown \
      /sys/bus/pci/devices/0000:00:1f.0/config /sys/bus/pci/devices/0000:00:1f.0/vendor \
      /sys/bus/pci/devices/0000:00:1f.0/device /sys/bus/pci/devices/0000:00:1f.0/class \
      /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c \
      /sys/firmware/efi/efivars/SetupMode-8be4df61-93ca-11d2-aa0d-00e098032b8c \
      /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name \
      /sys/class/dmi/id/product_version /sys/class/dmi/id/board_vendor \
      /sys/class/dmi/id/board_name /sys/class/dmi/id/bios_vendor \
      /sys/class/dmi/id/bios_version /sys/class/dmi/id/chassis_type; do
    grab "$f"
  done
  # The kernel config lines the checks read (the whole file is 250 KB).
  mkdir -p /tmp/cap/root/boot
  grep -E '^(# )?CONFIG_(DEVMEM|STRICT_DEVMEM|IO_STRICT_DEVMEM|X86_IOPL_IOPERM|SECURITY_LOCKDOWN_LSM[A-Z_]*|LOCK_DOWN_[A-Z_]*|LPC_ICH|ITCO_WDT|SPI_INTEL[A-Z_]*|MTD_SPI_NOR|EFI|EFIVAR_FS|IKCONFIG[A-Z_]*|MODULE_SIG|MODULE_SIG_FORCE|SECURITY|SECURITYFS)[= ]' \
    "/boot/config-$rel" >"/tmp/cap/root/boot/config-$rel"
  tar -cf /tmp/cap.tar -C /tmp/cap root
  emit "$S/capture.tar" /tmp/cap.tar 0
}
scenario() {
  S=$1 AS=
  case $S in
    not-root) AS="guestprobe runas 1000" ;;
    # lpc_ich alone, then what udev loads for the devices it creates: the
    # watchdog claims part of the RCRB that flashprog maps.
    lpc-ich) modprobe lpc_ich ;;
    lpc-ich-itco|iomem-relaxed-lpc-ich) modprobe lpc_ich && modprobe iTCO_wdt ;;
  esac
  echo "vmtest-guest: scenario $S"
  mkdir -p /tmp/w && chmod 1777 /tmp/w && cd /tmp/w
  step probes.json guestprobe
  capture
  step flashrom.log flashrom -p internal -r /tmp/w/x.rom
  cp /tmp/step.out /tmp/w/flashrom.log; chmod 644 /tmp/w/flashrom.log
  rm -f /tmp/w/x.rom
  step check.json libreflash check --json
  step check.txt libreflash check
  step diagnose.json libreflash diagnose --json /tmp/w/flashrom.log
  step dmesg dmesg
  cd /
}
for s in $(sed -n 's/.*libreflash\.vmtest=\([^ ]*\).*/\1/p' /proc/cmdline | tr ',' ' '); do
  scenario "$s"
done
echo "=== DONE ===" >$R
sync
poweroff -f
EOF
chmod 755 "$root/init"
vm_cpio "$root" "$work/initrd.cpio"
log "initramfs $(du -h "$work/initrd.cpio" | cut -f1)"

# --- boots: name, kernel arguments, scenarios, firmware
boot() {
  local name=$1 args=$2 scen=$3 fw=$4 dir="$out/boot-$1"
  # nokaslr keeps addresses in the captured /proc/iomem and /proc/modules
  # the same from one capture to the next.
  # no_timer_check: under TCG on a loaded host the IO-APIC timer check
  # can miss its ticks and panic the guest in setup_IO_APIC.
  local cmdline="console=ttyS0 panic=-1 nokaslr no_timer_check $args libreflash.vmtest=$scen"
  local q=(-M "$vm_machine" -accel "$accel" -cpu "$vm_cpu" -m 512 -smp 1)
  case $fw in
    bios)
      q+=(-kernel "$vmlinuz" -initrd "$work/initrd.cpio" -append "$cmdline") ;;
    uefi)
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars-$name.fd"
      q+=(-drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
          -drive "if=pflash,format=raw,unit=1,file=$work/vars-$name.fd"
          -kernel "$vmlinuz" -initrd "$work/initrd.cpio" -append "$cmdline") ;;
    secureboot)
      # Firmware with Microsoft's keys enrolled and Secure Boot on; the
      # chain is Debian's: shim (signed by Microsoft) -> grub (signed by
      # Debian) -> the kernel (signed by Debian), which then locks itself
      # down. -kernel would skip that chain, so boot an ESP instead:
      # QEMU's vvfat serves a directory as a FAT disk.
      local esp="$work/esp-$name"
      mkdir -p "$esp/EFI/BOOT" "$esp/EFI/debian"
      cp "$shimdir/usr/lib/shim/shimx64.efi.signed" "$esp/EFI/BOOT/BOOTX64.EFI"
      cp "$grubdir/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed" "$esp/EFI/BOOT/grubx64.efi"
      cp "$vmlinuz" "$esp/vmlinuz"
      cp "$work/initrd.cpio" "$esp/initrd"
      printf '%s\n' 'set timeout=0' 'search --no-floppy --file --set=root /vmlinuz' \
        "linux /vmlinuz $cmdline" 'initrd /initrd' 'boot' >"$esp/EFI/BOOT/grub.cfg"
      cp "$esp/EFI/BOOT/grub.cfg" "$esp/EFI/debian/grub.cfg"
      cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$work/vars-$name.fd"
      q[1]=$vm_machine,smm=on
      q+=(-global driver=cfi.pflash01,property=secure,value=on
          -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
          -drive "if=pflash,format=raw,unit=1,file=$work/vars-$name.fd"
          -drive "if=none,id=esp,format=raw,readonly=on,file=fat:$esp" -device virtio-blk-pci,drive=esp) ;;
  esac
  vm_qemu "$name" "$dir" "$timeout_s" "${q[@]}"
}
declare -A bootspec=(
  [bios]="|default,not-root,lpc-ich,lpc-ich-itco|bios"
  [lockdown]="lockdown=integrity|lockdown-integrity|bios"
  [relaxed]="iomem=relaxed|iomem-relaxed,iomem-relaxed-lpc-ich|bios"
  [uefi]="|uefi|uefi"
  [secureboot]="|secureboot|secureboot"
)
# Two guests at a time: TCG runs one vCPU per host thread.
jobs=$(nproc); [ "$jobs" -gt 2 ] && jobs=2 || true
pids=()
for b in ${boots//,/ }; do
  spec=${bootspec[$b]:-}; [ -n "$spec" ] || die "unknown boot $b"
  IFS='|' read -r args scen fw <<<"$spec"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  boot "$b" "$args" "$scen" "$fw" &
  pids+=($!)
done
wait

# --- results: split sections into OUT/<scenario>/<name> and <name>.rc
fail=0
for b in ${boots//,/ }; do
  dir="$out/boot-$b"
  if ! vm_finished "$dir"; then
    log "boot $b did not finish (qemu exit $(cat "$dir/qemu.rc")); console tail:"
    tail -n 40 "$dir/console.log" >&2 || true
    log "qemu's own output ($dir/qemu.out):"
    tail -n 20 "$dir/qemu.out" >&2 || true
    fail=1
  fi
  vm_results "$dir/results.txt" "$out"
done
vm_decode "$out"

if [ "$capture" = 1 ]; then
  for d in "$out"/*/; do
    s=$(basename "$d"); case $s in boot-*) continue ;; esac
    [ -e "$d/capture.tar" ] || continue
    dest=internal/preflight/testdata/qemu-q35-$s
    rm -rf "$dest/root" "$dest/probes.json" "$dest/flashrom.log" "$dest/flashrom.exit"
    mkdir -p "$dest"
    tar -xf "$d/capture.tar" -C "$dest"
    cp "$d/probes.json" "$dest/probes.json"
    # Real flashrom 1.3 logs of each case, for the diagnosis tests.
    cp "$d/flashrom.log" "$dest/flashrom.log"
    cp "$d/flashrom.log.rc" "$dest/flashrom.exit"
    log "captured $dest"
  done
fi
if [ "$fail" = 0 ]; then log "results in $out"; else log "boots failed; results kept in $out"; fi
exit $fail
