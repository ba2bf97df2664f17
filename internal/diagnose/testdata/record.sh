#!/bin/sh
# Records the real-run fixtures in testdata/logs:
#  - copies recorded flasher runs from the repository's testdata/flashers (stdout,
#    then stderr, where they were captured separately);
#  - runs Debian's flashrom 1.3.0 against the dummy programmer with injected
#    faults (stdout and stderr interleaved as printed).
# Each fixture starts with "## " header lines: where it comes from and what
# diagnose_test.go must conclude ("## want: outcome=... cause=... [facts=...]").
# Usage: sh testdata/record.sh   (from internal/diagnose; needs /usr/sbin/flashrom)
set -eu
cd "$(dirname "$0")"
out=logs
flashers=../../../testdata/flashers
flashrom=${FLASHROM:-/usr/sbin/flashrom}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# transcript NAME TOOL/RUN WANT...
transcript() {
	name=$1 src=$2
	shift 2
	{
		echo "## source: testdata/flashers/$src ($(sed -n 1p "$flashers/$src.cmd" | cut -c1-150))"
		for w in "$@"; do echo "## want: $w"; done
		if [ -f "$flashers/$src.combined" ]; then
			cat "$flashers/$src.combined"
		else
			cat "$flashers/$src.stdout" "$flashers/$src.stderr"
		fi
	} >"$out/$name.log"
}

transcript fp-bad-programmer-param flashprog-p1.5-91-g79d5c66/bad-programmer-param "outcome=failed cause=usage_error"
transcript fp-chip-not-found-dummy flashprog-p1.5-91-g79d5c66/chip-not-found-dummy "outcome=failed cause=chip_not_found"
transcript fp-flash-name flashprog-p1.5-91-g79d5c66/flash-name "outcome=success cause=-"
transcript fp-flash-size flashprog-p1.5-91-g79d5c66/flash-size "outcome=success cause=-"
transcript fp-internal-iopl-enosys flashprog-p1.5-91-g79d5c66/internal-iopl-enosys "outcome=failed cause=iopl_unavailable" \
	"outcome=failed cause=iopl_unavailable facts=euid=0,lockdown=none"
transcript fp-missing-file flashprog-p1.5-91-g79d5c66/missing-file "outcome=failed cause=usage_error"
transcript fp-no-programmer flashprog-p1.5-91-g79d5c66/no-programmer "outcome=failed cause=usage_error"
transcript fp-probe-ok flashprog-p1.5-91-g79d5c66/probe-ok "outcome=success cause=-"
transcript fp-qemu-q35-internal-chip-not-found flashprog-p1.5-91-g79d5c66/qemu-q35-internal-chip-not-found "outcome=failed cause=chip_not_found"
transcript fp-qemu-q35-internal-lockdown-integrity flashprog-p1.5-91-g79d5c66/qemu-q35-internal-lockdown-integrity \
	"outcome=failed cause=kernel_lockdown facts=euid=0,lockdown=integrity" \
	"outcome=failed cause=not_root candidates=kernel_lockdown"
transcript fp-qemu-q35-internal-not-root flashprog-p1.5-91-g79d5c66/qemu-q35-internal-not-root \
	"outcome=failed cause=not_root facts=euid=1000,lockdown=none" \
	"outcome=failed cause=not_root candidates=kernel_lockdown"
transcript fp-read-plain-ok flashprog-p1.5-91-g79d5c66/read-plain-ok "outcome=success cause=-"
transcript fp-read-progress-ok flashprog-p1.5-91-g79d5c66/read-progress-ok "outcome=success cause=-"
transcript fp-verify-mismatch flashprog-p1.5-91-g79d5c66/verify-mismatch "outcome=failed cause=verify_failed"
transcript fp-verify-progress-ok flashprog-p1.5-91-g79d5c66/verify-progress-ok "outcome=success cause=-"
transcript fp-write-erase-blocked flashprog-p1.5-91-g79d5c66/write-erase-blocked "outcome=failed cause=write_failed"
transcript fp-write-erase-ignored-verify-fail flashprog-p1.5-91-g79d5c66/write-erase-ignored-verify-fail "outcome=unchanged cause=write_failed"
transcript fp-write-flash-contents-progress-ok flashprog-p1.5-91-g79d5c66/write-flash-contents-progress-ok "outcome=success cause=-"
transcript fp-write-plain-ok flashprog-p1.5-91-g79d5c66/write-plain-ok "outcome=success cause=-"
transcript fp-write-program-blocked flashprog-p1.5-91-g79d5c66/write-program-blocked "outcome=unknown_state cause=bios_lock"
transcript fp-write-program-ignored-verify-fail flashprog-p1.5-91-g79d5c66/write-program-ignored-verify-fail "outcome=unknown_state cause=verify_failed"
transcript fp-write-progress-ok flashprog-p1.5-91-g79d5c66/write-progress-ok "outcome=success cause=-"
transcript fp-write-size-mismatch flashprog-p1.5-91-g79d5c66/write-size-mismatch "outcome=failed cause=image_size_mismatch"
# flashrom 1.3 maps dozens of >16 MiB chip definitions on a STRICT_DEVMEM
# kernel and fails later for another reason: /dev/mem is not the cause. The
# probe commands all fail (no SPI flash behind QEMU's ICH9), flashrom "finds"
# a bogus chip, and reading it fails.
transcript fr-qemu-q35-internal-default flashrom-1.3.0-debian/qemu-q35-internal-default \
	"outcome=failed cause=chip_not_found not=devmem_restricted" \
	"outcome=failed cause=chip_not_found not=devmem_restricted facts=euid=0,lockdown=none,strict_devmem=yes"

# Captures of flashrom 1.3 -p internal -r inside QEMU q35 guests (Debian 6.1
# kernel), made by this project's VM harness (scripts/vmtest.sh); copied when
# VMRESULTS names a results directory of it.
# vm NAME SCENARIO WANT...
vm() {
	name=$1 scen=$2
	shift 2
	[ -n "${VMRESULTS:-}" ] && [ -f "$VMRESULTS/$scen/flashrom.log" ] || return 0
	{
		echo "## source: libreflash VM harness (scripts/vmtest.sh), scenario $scen: flashrom -p internal -r in a QEMU q35 guest, stdout and stderr interleaved"
		for w in "$@"; do echo "## want: $w"; done
		cat "$VMRESULTS/$scen/flashrom.log"
	} >"$out/$name.log"
}
vm vm-not-root not-root "outcome=failed cause=not_root candidates=kernel_lockdown" \
	"outcome=failed cause=not_root facts=euid=1000,lockdown=none"
vm vm-lockdown-integrity lockdown-integrity "outcome=failed cause=not_root candidates=kernel_lockdown" \
	"outcome=failed cause=kernel_lockdown facts=euid=0,lockdown=integrity"
vm vm-secureboot secureboot "outcome=failed cause=not_root candidates=kernel_lockdown" \
	"outcome=failed cause=kernel_lockdown facts=euid=0,secureboot=yes"
vm vm-lpc-ich-itco lpc-ich-itco "outcome=failed cause=devmem_restricted candidates=kernel_lockdown" \
	"outcome=failed cause=devmem_restricted facts=euid=0,lockdown=none,strict_devmem=yes,drivers=lpc_ich"
vm vm-iomem-relaxed iomem-relaxed "outcome=failed cause=chip_not_found"
vm vm-uefi uefi "outcome=failed cause=chip_not_found not=devmem_restricted"

# run NAME WANT -- FLASHROM-ARGS...   (runs in $tmp with a.rom/b.rom/chip.bin)
run() {
	name=$1 want=$2
	shift 3
	cp "$tmp/a.rom" "$tmp/chip.bin"
	{
		echo "## source: recorded by testdata/record.sh: flashrom $* (Debian flashrom 1.3.0, dummy programmer; stdout and stderr interleaved)"
		echo "## want: $want"
		(cd "$tmp" && "$flashrom" "$@" 2>&1) || true
	} >"$out/$name.log"
}

head -c 4194304 /dev/urandom >"$tmp/a.rom"
head -c 4194304 /dev/urandom >"$tmp/b.rom"
head -c 2097152 /dev/urandom >"$tmp/small.rom"
printf '00000000:00000fff nosuch\n' >"$tmp/good.layout"
E=emulate=SST25VF032B,image=chip.bin

run fr-read-ok "outcome=success cause=-" -- -p dummy:$E -r out.rom
run fr-write-ok "outcome=success cause=-" -- -p dummy:$E -w b.rom
run fr-verify-ok "outcome=success cause=-" -- -p dummy:$E -v a.rom
run fr-verify-mismatch "outcome=failed cause=verify_failed" -- -p dummy:$E -v b.rom
run fr-size-mismatch "outcome=failed cause=image_size_mismatch" -- -p dummy:$E -w small.rom
run fr-chip-not-found "outcome=failed cause=chip_not_found" -- -p dummy:$E,spi_blacklist=0x9f90ab15 -r out.rom
run fr-multiple-chips "outcome=failed cause=multiple_chips" -- -p dummy:emulate=MX25L6436 -r out.rom
run fr-write-blocked-unknown-state "outcome=unknown_state cause=bios_lock" -- -p dummy:$E,spi_blacklist=0x02ad -w b.rom
run fr-erase-ignored-unchanged "outcome=unchanged cause=write_failed" -- -p dummy:$E,spi_ignorelist=0x20d852c760 -w b.rom
run fr-read-fail "outcome=failed cause=unknown" -- -p dummy:$E,spi_blacklist=0x030b -r out.rom
run fr-unhandled-param "outcome=failed cause=usage_error" -- -p dummy:$E,foo=bar -r out.rom
run fr-unknown-programmer "outcome=failed cause=usage_error" -- -p nosuchprog -r out.rom
run fr-bad-region "outcome=failed cause=usage_error" -- -p dummy:$E -l good.layout -i bios -r out.rom
run fr-ch341a-absent "outcome=failed cause=programmer_not_found" -- -p ch341a_spi -r out.rom
run fr-serprog-absent "outcome=failed cause=programmer_not_found" -- -p serprog:dev=/dev/nonexistent-tty -r out.rom
# The chip's own write protection (WP# asserted, BP bits set): the write
# fails and the chip is unchanged; the protection warning is the cause.
cp "$tmp/a.rom" "$tmp/chip16.bin" 2>/dev/null || true
head -c 16777216 /dev/urandom >"$tmp/a16.rom"
head -c 16777216 /dev/urandom >"$tmp/b16.rom"
cp "$tmp/a16.rom" "$tmp/chip16.bin"
{
	echo "## source: recorded by testdata/record.sh: flashrom -p dummy:emulate=W25Q128FV,image=chip16.bin,hwwp=yes,spi_status=0x9c -w b16.rom (Debian flashrom 1.3.0)"
	echo "## want: outcome=unchanged cause=bios_lock"
	(cd "$tmp" && "$flashrom" -p dummy:emulate=W25Q128FV,image=chip16.bin,hwwp=yes,spi_status=0x9c -w b16.rom 2>&1) || true
} >"$out/fr-chip-wp-unchanged.log"

# The shell cannot find the flasher.
{
	echo "## source: recorded by testdata/record.sh: bash -c 'flashprog -p internal -r backup.rom' with flashprog not on PATH"
	echo "## want: outcome=failed cause=flasher_missing"
	(cd "$tmp" && env PATH=/nonexistent /bin/bash -c 'flashprog -p internal -r backup.rom' 2>&1) || true
} >"$out/sh-flasher-missing.log"

# Replace the temp dir name so that fixtures do not change on every run.
sed -i "s|$tmp|/tmp/rec|g" "$out"/*.log
