#!/usr/bin/env bash
# The Dell Latitude unlock cycle on a real kernel: QEMU q35 (an ICH9) guests
# with a Latitude E6400's SMBIOS identity and Dell's BIOS vendor string,
# booted one after another from a state disk (ext4, virtio) that keeps
# libreflash's state directory, the image and the emulated flash chip across
# boots, as a laptop's disk and flash do. libreflash's board check and its
# read-only lock-state probes read the real emulated registers (HSFS through
# RCBA and /dev/mem, SMI_EN by port read, BIOS_CNTL and GEN_PMCON_1 from PCI
# config). Results come back over the second serial port (scripts/vmlib.sh's
# marker protocol) into OUT/<boot>/; the assertions live in
# internal/vmtest/dell_test.go.
#
#   scripts/vmdell.sh [--out DIR] [--timeout SECS]
#
# What q35 lacks is played by internal/vmtest/dellfake: at each power-on it
# sets the registers as Dell's BIOS leaves them (BIOS_CNTL BLE, SMIs on, a
# valid descriptor) and, when its EC (a small second disk) was armed and the
# machine was shut down rather than rebooted, reads the override strap as
# set; installed as dell_flash_unlock it does what the real tool does, with
# its messages. q35 has no SPI flash: where a boot gives the machine one
# (dellfake.chip), the guest's /usr/sbin/flashrom runs Debian's flashrom
# with the internal programmer replaced by the dummy programmer emulating
# the E6400's 4 MiB chip in a file on the state disk. Without it, flashrom
# -p internal really runs on the ICH9 (and finds no usable chip).
#
# Boots (the harness is the user: it shuts down or reboots between them):
#   arm       the first install: the tool arms the override → exit 6;
#             again in the same boot → exit 6 without running the tool
#   flash     after a shut down: SMIs disabled, backup, write, verify, SMIs
#             enabled, "shut down"
#   writefail after a shut down, a chip that refuses every erase command:
#             the write fails with the chip unchanged, SMIs are enabled
#             again
#   unknown   after a shut down, a chip that refuses every program command:
#             erased, the write and the rollback fail, an unknown state;
#             SMIs stay disabled for the recovery, and the run says so
#   nochip    after a shut down, no flash chip: Debian's flashrom -p internal
#             on q35's register-only RCRB "finds" a 256 KiB part; the plan
#             refuses the 4 MiB image, SMIs are enabled again
#   rebooted  after a reboot instead: the strap is not set → exit 3
#   killed    after a shut down, the install killed (kill -9) during the
#             backup with SMIs disabled: status shows the step pending,
#             restore runs the tool to enable them
#   noec      a first install where the EC does not answer: the tool times
#             out → exit 3, nothing written, nothing lowered
#   coreboot  the same laptop already running Libreboot (SMBIOS vendor
#             coreboot, no BIOS lock): route direct, the install writes
#             without the unlock tool, next reboot
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
    -h|--help) sed -n '2,48p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vmdell: unknown argument: $1" >&2; exit 2 ;;
  esac
done
ensure_go
ensure_pkgs qemu-system-x86 busybox-static cpio flashrom e2fsprogs coreboot-utils
[ "$(uname -m)" = x86_64 ] || vm_die "needs an x86_64 host"
vm_kernel
vm_accel
[ -n "$timeout_s" ] || { [ "$accel" = kvm ] && timeout_s=180 || timeout_s=600; }
vm_tcg_scale=4

work=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmdell.XXXXXX")
trap 'rm -rf "$work"' EXIT
[ -n "$out" ] || out=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-vmdell-out.XXXXXX")
mkdir -p "$out"

# --- the initramfs, one for every boot
root="$work/root"
vm_rootfs "$root"
CGO_ENABLED=0 go build -trimpath -o "$root/bin/libreflash" ./cmd/libreflash
CGO_ENABLED=0 go build -trimpath -o "$root/bin/dellfake" ./internal/vmtest/dellfake
mkdir -p "$root/usr/local/sbin"
cp "$root/bin/dellfake" "$root/usr/local/sbin/dell_flash_unlock"
flashrom=$(command -v flashrom)
vm_add_exe "$root" "$flashrom"
mkdir -p "$root/usr/lib/libreflash-vm"
mv "$root$flashrom" "$root/usr/lib/libreflash-vm/flashrom"
cat >"$root/usr/sbin/flashrom" <<'EOF'
#!/bin/sh
# q35 has no SPI flash. On a boot that gives the machine one (dellfake.chip
# on the kernel command line), -p internal becomes flashrom's dummy
# programmer emulating the Latitude E6400's 4 MiB chip in /disk/chip.bin,
# which keeps its contents across boots as flash does. Everything else is
# Debian's flashrom, unchanged. dellfake.chipextra=PARAMS adds dummy
# programmer parameters (a fault).
if grep -q 'dellfake\.chip' /proc/cmdline; then
  extra=$(sed -n 's/.*dellfake\.chipextra=\([^ ]*\).*/\1/p' /proc/cmdline)
  n=$# prev=
  for a do
    case $prev in
      -p|--programmer) case $a in internal|internal:*) a=dummy:emulate=SST25VF032B,image=/disk/chip.bin${extra:+,$extra} ;; esac ;;
    esac
    set -- "$@" "$a"
    prev=$a
  done
  shift "$n"
fi
exec /usr/lib/libreflash-vm/flashrom "$@"
EOF
chmod 755 "$root/usr/sbin/flashrom"
for m in virtio_pci virtio_blk ext4 crc32c_generic; do vm_add_module "$root" "$m"; done
vm_depmod "$root"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/local/sbin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t securityfs none /sys/kernel/security
R=/dev/ttyS1
stty -F $R raw -echo 2>/dev/null
B=$(sed -n 's/.*dellfake\.boot=\([a-z]*\).*/\1/p' /proc/cmdline)
emit() { { echo "=== BEGIN $1 ==="; gzip -c "$2" | base64; echo "=== END $1 rc=$3 ==="; } >$R; }
step() {
  name=$1; shift
  rc=0
  timeout 300 "$@" >/tmp/step.out 2>&1 </dev/null || rc=$?
  emit "$B/$name" /tmp/step.out $rc
  echo "vmdell-guest: $B/$name rc=$rc"
}
# run_install NAME: libreflash install as the user types it, output in NAME.txt;
# the run's own record beside it: NAME.events (its events.jsonl, what
# --json prints) and NAME.log (its flasher.log, the tool's output too).
run_install() {
  step "$1.txt" libreflash install /disk/e6400.rom --yes
  run=$(ls -d /var/lib/libreflash/runs/* 2>/dev/null | sort | tail -n 1)
  [ -n "$run" ] || return 0
  emit "$B/$1.events" "$run/events.jsonl" 0
  emit "$B/$1.log" "$run/flasher.log" 0
}
for m in virtio_pci virtio_blk crc32c_generic ext4; do modprobe $m; done
disk=
for i in 1 2 3 4 5 6 7 8 9 10; do
  for s in /sys/block/vd*/serial; do
    [ "$(cat "$s" 2>/dev/null)" = state ] && disk=/dev/$(basename "$(dirname "$s")")
  done
  [ -n "$disk" ] && break
  sleep 1
done
mkdir -p /disk /var/lib/libreflash
mount -t ext4 "$disk" /disk && mount --bind /disk/state /var/lib/libreflash || { echo "vmdell-guest: no state disk" >&2; poweroff -f; }
# Dell's BIOS (and its EC) at power-on.
step firmware.txt dellfake firmware
case $B in
arm)
  step check.txt libreflash check
  step check.json libreflash check --json
  run_install install
  run_install install-again
  ;;
flash|coreboot)
  step status-before.txt libreflash status
  step check.txt libreflash check
  run_install install
  ;;
killed)
  # The install killed (kill -9) while it backs up, with SMIs disabled;
  # once the flasher it started has ended, status and restore.
  libreflash install /disk/e6400.rom --yes >/tmp/killed.out 2>&1 </dev/null &
  pid=$! i=0
  until grep -qs '"stage":"backup","status":"start"' /var/lib/libreflash/runs/*/events.jsonl || [ $i -ge 1200 ]; do
    sleep 0.1; i=$((i + 1))
  done
  kill -9 $pid
  wait $pid
  emit "$B/install.txt" /tmp/killed.out $?
  i=0
  while pidof flashrom >/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
  step status-killed.json libreflash status --json
  step restore.txt libreflash restore
  ;;
*)
  run_install install
  ;;
esac
step status.txt libreflash status
step status.json libreflash status --json
step after.json libreflash check --json
echo "=== DONE ===" >$R
cd /
umount /var/lib/libreflash /disk
sync
poweroff -f
EOF
chmod 755 "$root/init"
vm_cpio "$root" "$work/initrd.cpio"

# --- the state disk, the image and the factory flash contents
size=$((4 << 20))
tmpl="$work/disk"
mkdir -p "$tmpl/state"
chmod 700 "$tmpl/state"
scripts/mkrom.sh rom "$tmpl/e6400.rom" "$size" CONFIG_BOARD_DELL_E6400=y CONFIG_VENDOR_DELL=y >/dev/null
scripts/mkrom.sh factory "$tmpl/chip.bin" "$size" >/dev/null
cp "$tmpl/e6400.rom" "$tmpl/chip.bin" "$out/"
mv "$out/chip.bin" "$out/factory.bin"
mkdisk() { # OUT
  mkfs.ext4 -q -F -L state -d "$tmpl" "$1" 64M >/dev/null
}
mkec() { head -c 4096 /dev/zero >"$1"; }

# boot NAME STATE EC(or -) POWER CHIP(1/0) [CHIP-EXTRA]: one guest, its
# results in OUT/NAME. Dell's BIOS, unless FW=coreboot.
boot() {
  local name=$1 disk=$2 ec=$3 power=$4 chip=$5 extra=${6:-} drives append
  local bios="type=0,vendor=Dell Inc.,version=A34,date=12/19/2012"
  drives=(-drive "file=$disk,if=none,id=state,format=raw" -device virtio-blk-pci,drive=state,serial=state)
  [ "$ec" = - ] || drives+=(-drive "file=$ec,if=none,id=ec,format=raw" -device virtio-blk-pci,drive=ec,serial=dell-ec)
  append="console=ttyS0 panic=-1 nokaslr no_timer_check iomem=relaxed dellfake.boot=$name dellfake.power=$power"
  [ "$chip" = 1 ] && append+=" dellfake.chip"
  [ -z "$extra" ] || append+=" dellfake.chipextra=$extra"
  if [ "${FW:-}" = coreboot ]; then
    append+=" dellfake.fw=coreboot"
    bios="type=0,vendor=coreboot,version=25.06"
  fi
  vm_qemu "$name" "$out/boot-$name" "$timeout_s" -M "$vm_machine,smm=off" -accel "$accel" -cpu "$vm_cpu" -m 512 -smp 1 \
    -smbios "$bios" \
    -smbios "type=1,manufacturer=Dell Inc.,product=Latitude E6400" \
    "${drives[@]}" -kernel "$vmlinuz" -initrd "$work/initrd.cpio" -append "$append"
  if ! vm_finished "$out/boot-$name"; then
    tail -n 40 "$out/boot-$name/console.log" >&2
    vm_die "boot $name: the guest did not finish"
  fi
  vm_results "$out/boot-$name/results.txt" "$out"
  # The flash chip as the boot left it (debugfs reads the image offline).
  debugfs -R "dump /chip.bin $out/$name/chip.bin" "$disk" >/dev/null 2>&1
}

d="$work/d"
mkdir -p "$d"
mkdisk "$d/arm.img"; mkec "$d/arm.ec"
mkdisk "$d/noec.img"
# SMM off: SeaBIOS then leaves SMI_EN and SMI_LOCK alone, and dellfake's
# BIOS sets GBL_SMI_EN as Dell's does (q35 with SMM has SeaBIOS lock it).
# Two guests at a time: each is one vCPU.
both() { # PID PID
  local rc=0
  wait "$1" || rc=1
  wait "$2" || rc=1
  [ "$rc" = 0 ] || vm_die "a boot failed"
}
boot arm "$d/arm.img" "$d/arm.ec" cold 1 & a=$!
boot noec "$d/noec.img" - cold 1 & b=$!
both "$a" "$b"
for b in flash nochip writefail rebooted killed unknown; do cp "$d/arm.img" "$d/$b.img"; cp "$d/arm.ec" "$d/$b.ec"; done
boot flash "$d/flash.img" "$d/flash.ec" cold 1 & a=$!
boot nochip "$d/nochip.img" "$d/nochip.ec" cold 0 & b=$!
both "$a" "$b"
# Erase refused: 4 KiB, 32 KiB, 64 KiB and chip erase (SST25VF032B).
boot writefail "$d/writefail.img" "$d/writefail.ec" cold 1 spi_blacklist=0x2052d860c7 & a=$!
boot rebooted "$d/rebooted.img" "$d/rebooted.ec" warm 1 & b=$!
both "$a" "$b"
boot killed "$d/killed.img" "$d/killed.ec" cold 1 & a=$!
# Program refused: byte program and AAI word program (SST25VF032B).
boot unknown "$d/unknown.img" "$d/unknown.ec" cold 1 spi_blacklist=0x02ad & b=$!
both "$a" "$b"
mkdisk "$d/coreboot.img"
FW=coreboot boot coreboot "$d/coreboot.img" - cold 1
vm_decode "$out"
vm_log "results in $out"
