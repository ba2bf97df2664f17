#!/usr/bin/env bash
# Installs what the tests need, then runs every test: format, vet,
# staticcheck, the Go tests (unit, testscript, real flashrom on emulated
# chips, real kernel under QEMU), the cross-builds and the linux/386 tests
# (in a QEMU guest when this kernel cannot run 32-bit binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_go
ensure_pkgs flashrom coreboot-utils qemu-system-x86 busybox-static cpio ovmf dbus
command -v staticcheck >/dev/null 2>&1 || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2

echo "==> gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad" >&2; exit 1; fi

echo "==> go vet"
go vet ./...
go vet -tags gendocs ./cmd/libreflash

echo "==> staticcheck"
staticcheck ./...

echo "==> cross-builds"
for target in $RELEASE_TARGETS; do
  GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./cmd/libreflash
done

echo "==> go test"
go test -count=1 -timeout 60m ./...

echo "==> linux/386 (ThinkPad X60/T60-class machines)"
# Some kernels cannot execute 32-bit binaries (no IA32 emulation, or a
# hypervisor without it); there the 386 tests run inside a real-kernel
# guest whose kernel can (scripts/test386.sh), and are vetted here.
probe=$(mktemp); GOARCH=386 CGO_ENABLED=0 go build -o "$probe" ./cmd/libreflash
if "$probe" version >/dev/null 2>&1; then
  rm -f "$probe"
  GOARCH=386 CGO_ENABLED=0 go test -count=1 -short -timeout 20m ./...
else
  rm -f "$probe"
  echo "this kernel cannot run 386 binaries: vetting them here, running them in a QEMU guest"
  GOARCH=386 CGO_ENABLED=0 go vet ./...
  scripts/test386.sh
fi
