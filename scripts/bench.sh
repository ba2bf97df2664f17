#!/usr/bin/env bash
# Runs the speed benchmarks: the wrapper's own CPU against the flasher's
# while the real flashrom reads a 16 MiB emulated chip (target: wrapper ≤ 2 %
# of flasher), a whole backup (two reads, hashing, fsyncs), and every other
# Benchmark* in the tree (parser throughput etc.). Needs flashrom; run as root
# (the benchmarks skip otherwise). Extra arguments go to go test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_go
ensure_pkgs flashrom

echo "==> wrapper CPU vs flasher CPU (16 MiB dummy chip, real flashrom)"
go test -run '^$' -bench 'RunRead16M' -benchtime 5x ./internal/runner "$@"
go test -run '^$' -bench 'Backup16M' -benchtime 3x ./internal/pipeline "$@"

echo "==> other benchmarks"
go test -run '^$' -bench . -skip 'RunRead16M|Backup16M' -benchtime 1s ./... "$@"
