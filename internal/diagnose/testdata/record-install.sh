#!/bin/sh
# Records libreflash's own flasher logs (runs/<ts>/flasher.log) from every
# install outcome into testdata/logs/li-*.log, for diagnose's multi-run
# fixtures: `libreflash install --rehearse` on an emulated SST25VF032B (the
# dummy programmer of Debian's flashrom 1.3.0) with faults injected:
#   ok          no fault
#   unchanged   --rehearse-params spi_ignorelist=20d852c760 (the chip ignores every erase)
#   rolled-back a stand-in flasher adds spi_blacklist=ad to the first write only
#   unknown     --rehearse-params spi_blacklist=ad (AAI program refused: write and rollback fail)
#   cancelled   SIGINT during the first backup read (freq=5MHz makes it slow)
# Each fixture starts with "## " header lines: how it was made and what
# diagnose_test.go must conclude. Usage, as root (libreflash refuses a
# stand-in flasher that is not root's), from internal/diagnose:
#   sh testdata/record-install.sh
set -eu
cd "$(dirname "$0")"
out=$PWD/logs
repo=$(cd ../../.. && pwd)
flashrom=${FLASHROM:-/usr/sbin/flashrom}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
(cd "$repo" && go build -o "$tmp/libreflash" ./cmd/libreflash)
commit=$(git -C "$repo" rev-parse --short HEAD)
bash "$repo/scripts/mkrom.sh" rom "$tmp/x200.rom" 4194304 CONFIG_VENDOR_LENOVO=y CONFIG_BOARD_LENOVO_X200=y 'CONFIG_MAINBOARD_PART_NUMBER="ThinkPad X200"' >/dev/null

# The stand-in flasher for the rolled-back case: the first write gets the
# fault, every other run is flashrom as called.
mkdir -m 755 "$tmp/fl"
cat >"$tmp/fl/flashrom" <<SH
#!/bin/sh
mark="\$(dirname "\$0")/done"
case " \$* " in
*" -w "*)
	if [ ! -e "\$mark" ]; then
		: > "\$mark"
		for a; do
			shift
			case \$a in dummy:*) a="\$a,spi_blacklist=ad" ;; esac
			set -- "\$@" "\$a"
		done
	fi
	;;
esac
exec $flashrom "\$@"
SH
chmod 755 "$tmp/fl/flashrom"

# record NAME WANT HOW ARGS...: one install, its flasher.log into logs/NAME.log
record() {
	name=$1 want=$2 how=$3
	shift 3
	state="$tmp/state-$name"
	code=0
	(cd "$tmp" && "$tmp/libreflash" install x200.rom --rehearse --yes --state-dir "$state" "$@" >"$tmp/$name.out" 2>&1) || code=$?
	save "$name" "$want" "$how" "$code" "$*"
}

save() {
	name=$1 want=$2 how=$3 code=$4 args=$5
	{
		echo "## source: recorded by testdata/record-install.sh: libreflash (commit $commit) install x200.rom --rehearse --yes $args — $how; exit $code; the run's flasher.log"
		echo "## want: $want"
		cat "$tmp"/state-"$name"/rehearsals/runs/*/flasher.log
	} >"$out/$name.log"
}

record li-install-ok "outcome=success cause=- runs=probe:success,probe:success,read:success,read:success,write:success" \
	"no fault" --flasher "$flashrom"
record li-install-unchanged "outcome=unchanged cause=write_failed runs=probe:success,probe:success,read:success,read:success,write:unchanged" \
	"the emulated chip ignores every erase opcode" --flasher "$flashrom" --rehearse-params spi_ignorelist=20d852c760
record li-install-rolled-back "outcome=rolled_back cause=bios_lock runs=probe:success,probe:success,read:success,read:success,write:unknown_state,write:success" \
	"the first write has AAI program refused (stand-in flasher adding spi_blacklist=ad), the rollback works" --flasher "$tmp/fl/flashrom"
record li-install-unknown-state "outcome=unknown_state cause=bios_lock runs=probe:success,probe:success,read:success,read:success,write:unknown_state,write:unchanged" \
	"AAI program refused on every write: the write and the rollback fail" --flasher "$flashrom" --rehearse-params spi_blacklist=ad

# cancelled: ^C (SIGINT to libreflash alone) while the first backup read runs
name=li-install-cancelled
state="$tmp/state-$name"
(cd "$tmp" && exec "$tmp/libreflash" install x200.rom --rehearse --yes --state-dir "$state" --flasher "$flashrom" --rehearse-params freq=5MHz >"$tmp/$name.out" 2>&1) &
pid=$!
until grep -q '^# libreflash: read 1 of 2' "$state"/rehearsals/runs/*/flasher.log 2>/dev/null; do sleep 0.2; done
sleep 1
kill -INT "$pid"
code=0
wait "$pid" || code=$?
save "$name" "outcome=incomplete cause=- runs=probe:success,probe:success,read:incomplete" \
	"SIGINT during the first backup read (dummy freq=5MHz)" "$code" "--flasher $flashrom --rehearse-params freq=5MHz"
