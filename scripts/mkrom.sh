#!/usr/bin/env bash
# mkrom.sh: make test and demo images with coreboot's own tools.
#
#   mkrom.sh rom OUT SIZE [KCONFIG_LINE...]   a coreboot image (FMAP + CBFS with
#                                             a config file, a revision file and
#                                             a payload-sized blob) of SIZE bytes
#   mkrom.sh factory OUT SIZE                 a stand-in for vendor firmware:
#                                             code-like data, erased tail
#
# KCONFIG_LINE is a line of the build config, e.g. CONFIG_BOARD_LENOVO_X200=y.
set -euo pipefail

die() { echo "mkrom.sh: error: $*" >&2; exit 2; }
[ $# -ge 3 ] || die "usage: mkrom.sh rom|factory OUT SIZE [KCONFIG_LINE...]"
kind=$1 out=$2 size=$3
shift 3
case $size in *[!0-9]*|'') die "size must be a number of bytes" ;; esac
[ "$size" -ge $((1 << 20)) ] || die "size must be at least 1 MiB"

PATH=$PATH:/usr/sbin:/sbin
# random bytes stand in for code (incompressible, like the real thing)
rand() { head -c "$1" /dev/urandom; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $kind in
factory)
  # 15/16 code-like data, then an erased (0xff) tail, as vendor images have
  body=$((size - size / 16))
  rand "$body" > "$tmp/f"
  head -c $((size / 16)) /dev/zero | tr '\0' '\377' >> "$tmp/f"
  mv "$tmp/f" "$out"
  ;;
rom)
  command -v cbfstool >/dev/null && command -v fmaptool >/dev/null ||
    die "cbfstool and fmaptool are needed (Debian: apt install coreboot-utils)"
  printf 'FLASH@0 0x%x {\n\tBIOS@0 0x%x {\n\t\tFMAP@0 0x800\n\t\tCOREBOOT(CBFS)@0x800 0x%x\n\t}\n}\n' \
    "$size" "$size" $((size - 0x800)) > "$tmp/layout.fmd"
  # quiet when they work, their own words when they do not
  fmaptool "$tmp/layout.fmd" "$tmp/layout.fmap" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  cbfstool "$tmp/rom" create -M "$tmp/layout.fmap" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  {
    echo "# libreflash test image"
    for l in "$@"; do echo "$l"; done
  } > "$tmp/config"
  printf 'COREBOOT_VERSION: 25.06-libreflash-test\n' > "$tmp/revision"
  rand $((256 << 10)) > "$tmp/payload"
  cbfstool "$tmp/rom" add -f "$tmp/config" -n config -t raw >/dev/null
  cbfstool "$tmp/rom" add -f "$tmp/revision" -n revision -t raw >/dev/null
  cbfstool "$tmp/rom" add -f "$tmp/payload" -n fallback/payload -t raw >/dev/null
  mv "$tmp/rom" "$out"
  ;;
*) die "unknown kind $kind (want rom or factory)" ;;
esac
