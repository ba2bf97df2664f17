#!/usr/bin/env bash
# mkrom.sh: make test and demo images with coreboot's own tools.
#
#   mkrom.sh rom OUT SIZE [KCONFIG_LINE...]   a coreboot image (FMAP + CBFS with
#                                             an LZMA-compressed config file, a
#                                             revision file and a payload-sized
#                                             blob) of SIZE bytes
#   mkrom.sh ifdrom OUT SIZE [KCONFIG_LINE...] the same inside an Intel flash
#                                             descriptor layout: descriptor
#                                             (4 KiB), ME (filled), BIOS (the
#                                             upper half, coreboot); the host
#                                             may write the BIOS region only,
#                                             as on real machines
#   mkrom.sh gberom OUT SIZE GBE [KCONFIG_LINE...] the same with a GbE region
#                                             (8 KiB after the descriptor) that
#                                             ifdtool fills from the file GBE,
#                                             and a host that may write every
#                                             region (a full-chip write)
#   mkrom.sh factory OUT SIZE                 a stand-in for vendor firmware:
#                                             code-like data, erased tail
#
# KCONFIG_LINE is a line of the build config, e.g. CONFIG_BOARD_LENOVO_X200=y.
set -euo pipefail

die() { echo "mkrom.sh: error: $*" >&2; exit 2; }
[ $# -ge 3 ] || die "usage: mkrom.sh rom|ifdrom|gberom|factory OUT SIZE [GBE] [KCONFIG_LINE...]"
kind=$1 out=$2 size=$3
shift 3
gbe=
if [ "$kind" = gberom ]; then
  [ $# -ge 1 ] && [ -f "$1" ] || die "gberom needs the GbE region's contents as a file"
  gbe=$1; shift
fi
case $size in *[!0-9]*|'') die "size must be a number of bytes" ;; esac
[ "$size" -ge $((1 << 20)) ] || die "size must be at least 1 MiB"

PATH=$PATH:/usr/sbin:/sbin
# random bytes stand in for code (incompressible, like the real thing)
rand() { head -c "$1" /dev/urandom; }

# put32 FILE OFFSET VALUE: VALUE as 4 little-endian bytes at OFFSET
put32() {
  local b
  b=$(printf '\\%03o\\%03o\\%03o\\%03o' $(($3 & 255)) $(($3 >> 8 & 255)) $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))
  # shellcheck disable=SC2059
  printf "$b" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

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
rom|ifdrom|gberom)
  command -v cbfstool >/dev/null && command -v fmaptool >/dev/null ||
    die "cbfstool and fmaptool are needed (Debian: apt install coreboot-utils)"
  half=$((size / 2))
  if [ "$kind" != rom ]; then
    printf 'FLASH@0 0x%x {\n\tSI_ALL@0 0x%x {\n\t\tSI_DESC@0 0x1000\n\t\tSI_ME@0x1000 0x%x\n\t}\n\tSI_BIOS@0x%x 0x%x {\n\t\tFMAP@0 0x800\n\t\tCOREBOOT(CBFS)@0x800 0x%x\n\t}\n}\n' \
      "$size" "$half" $((half - 0x1000)) "$half" "$half" $((half - 0x800)) > "$tmp/layout.fmd"
  else
    printf 'FLASH@0 0x%x {\n\tBIOS@0 0x%x {\n\t\tFMAP@0 0x800\n\t\tCOREBOOT(CBFS)@0x800 0x%x\n\t}\n}\n' \
      "$size" "$size" $((size - 0x800)) > "$tmp/layout.fmd"
  fi
  # quiet when they work, their own words when they do not
  fmaptool "$tmp/layout.fmd" "$tmp/layout.fmap" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  cbfstool "$tmp/rom" create -M "$tmp/layout.fmap" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  # the given lines, then common ones, so that the file is as long as a real
  # defconfig: cbfstool stores a file uncompressed when LZMA does not shrink it
  {
    echo "# libreflash test image"
    for l in "$@"; do echo "$l"; done
    cat <<'EOF'
CONFIG_USE_OPTION_TABLE=y
CONFIG_TIMESTAMPS_ON_CONSOLE=y
CONFIG_DRIVERS_PS2_KEYBOARD=y
CONFIG_SMMSTORE=y
CONFIG_SMMSTORE_V2=y
# CONFIG_DEBUG_SMI is not set
# CONFIG_CONSOLE_SERIAL is not set
# CONFIG_PAYLOAD_NONE is not set
# CONFIG_PAYLOAD_LINUX is not set
# CONFIG_PAYLOAD_DEPTHCHARGE is not set
# CONFIG_PAYLOAD_EDK2 is not set
# CONFIG_PAYLOAD_FILO is not set
# CONFIG_PAYLOAD_LINUXBOOT is not set
# CONFIG_PAYLOAD_SKIBOOT is not set
EOF
  } > "$tmp/config"
  printf 'COREBOOT_VERSION: 25.06-libreflash-test\n' > "$tmp/revision"
  rand $((256 << 10)) > "$tmp/payload"
  # LZMA, as coreboot's build stores config on x86 (config-compression :=
  # $(CBFS_COMPRESS_FLAG)); a failed compression is an error here, not the
  # silent fallback to an uncompressed file cbfstool makes
  cbfstool "$tmp/rom" add -f "$tmp/config" -n config -t raw -c lzma >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
  if grep -q 'Compression failed' "$tmp/log"; then cat "$tmp/log" >&2; die "cbfstool could not compress the config"; fi
  cbfstool "$tmp/rom" add -f "$tmp/revision" -n revision -t raw >/dev/null
  cbfstool "$tmp/rom" add -f "$tmp/payload" -n fallback/payload -t raw >/dev/null
  # the bootblock sits at the top of the flash, where an x86 CPU starts
  rand 512 > "$tmp/bootblock"
  cbfstool "$tmp/rom" add -f "$tmp/bootblock" -n bootblock -t bootblock -b -512 >/dev/null
  if [ "$kind" != rom ]; then
    # IFDv1: the descriptor erased but for its maps, regions and masters
    head -c 4096 /dev/zero | tr '\000' '\377' | dd of="$tmp/rom" conv=notrunc status=none
    put32 "$tmp/rom" $((0x10)) $((0x0ff0a55a))                 # FLVALSIG
    put32 "$tmp/rom" $((0x14)) $((0x03 | 0x04 << 16 | 4 << 24)) # FLMAP0: FCBA 0x30, FRBA 0x40, NR 4
    put32 "$tmp/rom" $((0x18)) $((0x06 | 2 << 8 | 0x10 << 16))  # FLMAP1: FMBA 0x60, NM 2, FISBA 0x100
    put32 "$tmp/rom" $((0x1c)) $((0x20))                        # FLMAP2: FMSBA 0x200
    put32 "$tmp/rom" $((0x30)) 4                                # FLCOMP
    put32 "$tmp/rom" $((0xefc)) 0                               # FLUMAP1: no VSCC table
    put32 "$tmp/rom" $((0x40)) 0                                # FLREG0 descriptor 0-0xfff
    put32 "$tmp/rom" $((0x44)) $(((half >> 12) | ((size - 1) >> 12) << 16))  # FLREG1 BIOS
    put32 "$tmp/rom" $((0x48)) $((1 | ((half - 1) >> 12) << 16))            # FLREG2 ME
    put32 "$tmp/rom" $((0x4c)) $((0x1fff))                      # FLREG3 GbE unused
    put32 "$tmp/rom" $((0x50)) $((0x1fff))                      # FLREG4 PD unused
    put32 "$tmp/rom" $((0x60)) $((0x1f << 16 | 0x02 << 24))     # FLMSTR1: host reads all, writes BIOS only
    put32 "$tmp/rom" $((0x64)) $((0x0c0d0000))                  # FLMSTR2 (ME)
    put32 "$tmp/rom" $((0x68)) $((0x08080118))                  # FLMSTR3 (GbE)
    rand $((half - 0x1000)) | dd of="$tmp/rom" bs=4096 seek=1 conv=notrunc status=none  # the ME's firmware
  fi
  if [ "$kind" = gberom ]; then
    # GbE at 0x1000-0x2fff, the ME after it; the host may write all regions
    put32 "$tmp/rom" $((0x48)) $((3 | ((half - 1) >> 12) << 16))            # FLREG2 ME
    put32 "$tmp/rom" $((0x4c)) $((1 | 2 << 16))                            # FLREG3 GbE
    put32 "$tmp/rom" $((0x60)) $((0x1f << 16 | 0x1f << 24))                # FLMSTR1: host reads and writes all
    ifdtool -i "gbe:$gbe" "$tmp/rom" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; exit 1; }
    mv "$tmp/rom.new" "$tmp/rom"
  fi
  mv "$tmp/rom" "$out"
  ;;
*) die "unknown kind $kind (want rom, ifdrom or factory)" ;;
esac
