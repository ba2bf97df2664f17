#!/usr/bin/env bash
# Runs the speed benchmarks: the wrapper's own CPU against the flasher's
# while the real flashrom reads a 16 MiB emulated chip (target: wrapper ≤ 2 %
# of flasher), a whole backup (two reads, hashing, fsyncs), and every other
# Benchmark* in the tree (parser throughput etc.). Needs flashrom; run as root
# (the benchmarks skip otherwise). Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# bench_install: chip passes of one install against the naive sequence
# (backup read twice, then a plain -w, which reads the chip again and
# verifies), and the wall time of `install --rehearse` against the same
# flasher commands typed by hand, side by side on the same slow emulated
# chip (SST25VF032B, 4 MiB, dummy freq=$BENCH_FREQ: 1 µs per byte at 5MHz).
# Targets: 3 chip reads; install ≤ 1.05 × by hand.
bench_install() {
  local freq=${BENCH_FREQ:-5MHz} fr=/usr/sbin/flashrom size=$((4 << 20))
  local tmp; tmp=$(mktemp -d)
  echo "==> install: chip passes and wall time against the same commands by hand (4 MiB chip, freq=$freq)"
  go build -o "$tmp/libreflash" ./cmd/libreflash
  scripts/mkrom.sh factory "$tmp/factory.rom" "$size"
  scripts/mkrom.sh rom "$tmp/rom" "$size" CONFIG_VENDOR_LENOVO=y CONFIG_BOARD_LENOVO_X200=y
  local p="dummy:emulate=SST25VF032B,image=$tmp/chip.bin,freq=$freq"
  # count the chip reads a flasher run printed
  reads() { grep -Eo 'Reading flash\.\.\.|Reading old flash chip contents|Verifying flash\.\.\.' "$@" | wc -l; }

  # naive: backup twice, compare, plain write (reads old contents, verifies)
  cp "$tmp/factory.rom" "$tmp/chip.bin"
  local t0 t1 t2 t3
  t0=$(date +%s.%N)
  "$fr" -p "$p" -r "$tmp/n1" > "$tmp/naive.log" 2>&1
  "$fr" -p "$p" -r "$tmp/n2" >> "$tmp/naive.log" 2>&1
  cmp -s "$tmp/n1" "$tmp/n2"
  "$fr" -p "$p" -w "$tmp/rom" >> "$tmp/naive.log" 2>&1
  t1=$(date +%s.%N)
  local naive_reads; naive_reads=$(reads "$tmp/naive.log")

  # by hand: exactly the flasher commands install runs (the probe, two
  # reads, the write without the flasher's verify reusing the first read as
  # --flash-contents, one read to verify, compared), and
  # libreflash's whole pipeline (checks, ROM checks, backup with hashes and
  # fsyncs, write, verify, run records) on the same emulated chip. They
  # alternate, $BENCH_ROUNDS times, so that a busy machine slows both alike;
  # the fastest round of each is compared.
  local rounds=${BENCH_ROUNDS:-3} i t2 t3 t4 t5 hand="" lf="" hand_reads lf_reads
  for i in $(seq "$rounds"); do
    cp "$tmp/factory.rom" "$tmp/chip.bin"
    t2=$(date +%s.%N)
    "$fr" -p "$p" --flash-name > "$tmp/hand.log" 2>&1
    "$fr" -p "$p" -r "$tmp/h1" >> "$tmp/hand.log" 2>&1
    "$fr" -p "$p" -r "$tmp/h2" >> "$tmp/hand.log" 2>&1
    cmp -s "$tmp/h1" "$tmp/h2"
    "$fr" -p "$p" -w "$tmp/rom" -n --flash-contents "$tmp/h1" >> "$tmp/hand.log" 2>&1
    "$fr" -p "$p" -r "$tmp/h3" >> "$tmp/hand.log" 2>&1
    cmp -s "$tmp/h3" "$tmp/rom"
    t3=$(date +%s.%N)
    hand_reads=$(reads "$tmp/hand.log")

    rm -rf "$tmp/state"
    t4=$(date +%s.%N)
    "$tmp/libreflash" install "$tmp/rom" --rehearse --rehearse-from "$tmp/factory.rom" \
      --rehearse-params "freq=$freq" --yes --json --state-dir "$tmp/state" > "$tmp/install.json"
    t5=$(date +%s.%N)
    lf_reads=$(grep '"type":"summary"' "$tmp/install.json" | grep -Eo '"chip_reads":[0-9]+' | cut -d: -f2)
    cmp -s "$(ls -d "$tmp"/state/rehearsals/runs/*/ | tail -n 1)/chip.bin" "$tmp/rom" ||
      { echo "bench: install did not write the chip" >&2; return 1; }
    hand="$hand $t2:$t3" lf="$lf $t4:$t5"
  done

  awk -v hand="$hand" -v lf="$lf" -v n0="$t0" -v n1="$t1" \
      -v nr="$naive_reads" -v hr="$hand_reads" -v lr="$lf_reads" '
  function fastest(list,  a, k, i, p, d, m) {
    k = split(list, a, " ")
    m = -1
    for (i = 1; i <= k; i++) { split(a[i], p, ":"); d = p[2] - p[1]; if (m < 0 || d < m) m = d }
    return m
  }
  function all(list,  a, k, i, p, s) {
    k = split(list, a, " ")
    for (i = 1; i <= k; i++) { split(a[i], p, ":"); s = s sprintf(" %.1f", p[2] - p[1]) }
    return s
  }
  BEGIN {
    h = fastest(hand); l = fastest(lf)
    printf "  chip reads:  install %d   by hand %d   naive (backup x2 + plain -w) %d   (target 3)\n", lr, hr, nr
    printf "  wall time:   install --rehearse %.1f s   same commands by hand %.1f s   ratio %.3f (target <= 1.05; fastest of each)\n", l, h, l / h
    printf "               rounds: install%s s; by hand%s s; naive sequence %.1f s\n", all(lf), all(hand), n1 - n0
  }'
  rm -rf "$tmp"
}

ensure_go
ensure_pkgs flashrom coreboot-utils

# BENCH_INSTALL_ONLY=1 runs only the install benchmark (the README's figures).
if [ -n "${BENCH_INSTALL_ONLY:-}" ]; then bench_install; exit 0; fi

echo "==> wrapper CPU vs flasher CPU (16 MiB dummy chip, real flashrom)"
go test -run '^$' -bench 'RunRead16M' -benchtime 5x ./internal/runner "$@"
go test -run '^$' -bench 'Backup16M' -benchtime 3x ./internal/pipeline "$@"

# Chip-touching flasher runs per install (target <= 5, from argv) and the
# wall time of backup and install against the same flasher commands run
# bare, side by side in each iteration, on a 16 MiB emulated chip (target
# ratio <= 1.10).
echo "==> backup and install against the same flasher commands run bare (16 MiB chip)"
go test -run '^$' -bench 'VsBare16M' -benchtime 3x ./internal/pipeline "$@"

bench_install

# Alone in its process, so that its peak RSS is its own. MB/s is wall time
# (meaningful on an idle machine), MB/cpu-s per CPU second (on a busy one).
echo "==> diagnose: a 500 MB log streamed from a file (targets: >= 100 MB/s, peak-RSS-MiB <= 64)"
go test -run '^$' -bench 'DiagnoseStream500MB' -benchtime 2x ./internal/diagnose "$@"

echo "==> other benchmarks"
go test -run '^$' -bench . -skip 'RunRead16M|Backup16M|VsBare16M|DiagnoseStream500MB' -benchtime 1s ./... "$@"
