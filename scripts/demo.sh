#!/usr/bin/env bash
# The README's first command. Installs what it needs (Go, flashrom,
# coreboot-utils), builds libreflash, makes a factory-like image and a
# Libreboot-like ROM of the same size, and rehearses the whole install on an
# emulated chip:
#
#   libreflash install ROM --rehearse --yes
#
# Nothing on this machine's flash chip is touched: the rehearsal writes a
# file through the flasher's dummy programmer. Root is needed only to install
# missing packages.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_go
ensure_pkgs flashrom coreboot-utils
go build -o bin/libreflash ./cmd/libreflash
./bin/libreflash version
# What would block an internal flash here (exit 3 when something does).
./bin/libreflash check || [ $? -eq 3 ]

demo=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-demo.XXXXXX")
size=$((4 << 20)) # a 4 MiB chip, as on some ThinkPad X200s (emulated: SST25VF032B)
echo "==> demo files in $demo"
# the machine's current firmware, as far as the rehearsal is concerned
scripts/mkrom.sh factory "$demo/factory.rom" "$size"
# a coreboot image built for a ThinkPad X200, 4 MiB
scripts/mkrom.sh rom "$demo/libreboot.rom" "$size" \
  CONFIG_VENDOR_LENOVO=y CONFIG_BOARD_LENOVO_X200=y \
  'CONFIG_MAINBOARD_VENDOR="LENOVO"' 'CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"'

echo "==> libreflash install libreboot.rom --rehearse --yes"
set +e
./bin/libreflash install "$demo/libreboot.rom" --rehearse --rehearse-from "$demo/factory.rom" \
  --yes --state-dir "$demo/state"
rc=$?
set -e
[ "$rc" = 0 ] || { echo "demo: the rehearsal ended with exit status $rc" >&2; exit "$rc"; }

# Show that it did what it said: the emulated chip holds the ROM, and the
# backup holds what the chip held before.
run=$(ls -d "$demo"/state/rehearsals/runs/*/ | tail -n 1)
backup=$(ls "$demo"/state/rehearsals/backups/*/backup.rom | tail -n 1)
cmp "$run/chip.bin" "$demo/libreboot.rom"
cmp "$backup" "$demo/factory.rom"
echo "==> checked: the emulated chip now holds libreboot.rom, and the backup holds the previous contents"
echo "    (files kept in $demo)"
