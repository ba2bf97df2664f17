#!/usr/bin/env bash
# Builds static release binaries into dist/ with a SHA256SUMS file.
# Usage: scripts/build.sh [VERSION]   (default: git describe)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_go

version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
targets=${TARGETS:-$RELEASE_TARGETS}

rm -rf dist && mkdir -p dist
for t in $targets; do
  os=${t%/*} arch=${t#*/}
  out="dist/libreflash-$version-$os-$arch"
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit" \
    -o "$out" ./cmd/libreflash
  printf '%-48s %6s KiB\n' "$out" "$(( $(stat -c %s "$out") / 1024 ))"
done
(cd dist && sha256sum libreflash-* > SHA256SUMS)
echo "dist/SHA256SUMS written"
