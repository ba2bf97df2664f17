#!/usr/bin/env bash
# Installs what the tests need, then runs every test: format, vet,
# staticcheck, the cross-builds, the Go tests (unit, testscript, real
# flashrom on emulated chips), the real-kernel tests under QEMU (the checks'
# scenarios, then the Dell unlock cycle across boots) and the linux/386
# tests (in a QEMU guest when this kernel cannot run 32-bit
# binaries). Every stage runs even when an earlier one failed; the end
# names the stages that failed, and the exit status is 1 if any did.
# 10-40 minutes on 2 cores without KVM (docs/development.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

t_all=$SECONDS
failed=()
# stage NAME FUNCTION: announce, run FUNCTION with errexit in a subshell,
# record a failure and go on.
stage() {
  local name=$1 t0=$SECONDS rc=0
  shift
  echo
  echo "==> $name"
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  if [ "$rc" = 0 ]; then
    echo "==> $name: ok ($((SECONDS - t0))s)"
  else
    echo "==> $name: FAILED (exit $rc, $((SECONDS - t0))s)" >&2
    failed+=("$name")
  fi
}

echo "==> installing what the tests need (Go, flashrom, coreboot-utils, QEMU, busybox, OVMF, staticcheck)"
ensure_go
ensure_pkgs flashrom coreboot-utils qemu-system-x86 busybox-static cpio ovmf dbus
command -v staticcheck >/dev/null 2>&1 || go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
echo "$(go version), $(flashrom --version 2>/dev/null | head -n1), $(nproc) CPUs"

gofmt_check() {
  local bad
  bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
  if [ -n "$bad" ]; then echo "gofmt would change: $bad" >&2; return 1; fi
}

vet() {
  echo "(compiles every package first: about a minute)"
  go vet ./...
  go vet -tags gendocs ./cmd/libreflash
}

cross_builds() {
  local target
  for target in $RELEASE_TARGETS; do
    echo "building libreflash for $target"
    GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./cmd/libreflash
  done
}

go_tests() {
  echo "(one line per package, in order; the first, cmd/libreflash, takes a few minutes)"
  LIBREFLASH_VMTEST=0 go test -count=1 -timeout 60m ./...
}

# guests SCRIPT TEST FLAG: SCRIPT boots its QEMU guests and says what it
# does as it goes; internal/vmtest's TEST then asserts on their results
# (-FLAG=DIR). A failed run keeps the results and names them.
guests() {
  local script=$1 test=$2 flag=$3 out rc=0
  out=$(mktemp -d "${TMPDIR:-/tmp}/libreflash-$(basename "$script" .sh)-out.XXXXXX")
  "$script" --out "$out" || rc=$?
  go test -count=1 -run "$test" ./internal/vmtest -"$flag"="$out" || rc=$?
  if [ "$rc" = 0 ]; then
    rm -rf "$out"
  else
    echo "results kept in $out (boot-*/console.log, boot-*/qemu.out)" >&2
  fi
  return "$rc"
}

amd64_guests() {
  [ "$(go env GOOS)/$(go env GOARCH)" = linux/amd64 ] && return 0
  echo "skipped: the guests run this host's amd64 flashrom"
  return 1
}

# The checks' scenarios on a real kernel.
real_kernel() {
  amd64_guests || return 0
  echo "(5 QEMU guests, 2 at a time: about a minute with KVM, 5-15 minutes without)"
  guests scripts/vmtest.sh TestRealKernel vmtest.results
}

# The Dell unlock cycle across guest boots.
dell_cycle() {
  amd64_guests || return 0
  echo "(9 QEMU guest boots, 2 at a time: under a minute with KVM, 2-7 minutes without)"
  guests scripts/vmdell.sh TestDellGuest vmdell.results
}

# Some kernels cannot execute 32-bit binaries (no IA32 emulation, or a
# hypervisor without it); there the 386 tests run inside a real-kernel
# guest whose kernel can (scripts/test386.sh), and are vetted here.
linux_386() {
  local probe
  probe=$(mktemp)
  echo "building libreflash for linux/386 to see whether this kernel runs it"
  GOARCH=386 CGO_ENABLED=0 go build -o "$probe" ./cmd/libreflash
  if "$probe" version >/dev/null 2>&1; then
    rm -f "$probe"
    GOARCH=386 CGO_ENABLED=0 go test -count=1 -short -timeout 20m ./...
  else
    rm -f "$probe"
    echo "this kernel cannot run 386 binaries: vetting them here, running them in a QEMU guest"
    GOARCH=386 CGO_ENABLED=0 go vet ./...
    echo "(the guest runs one package at a time: 5-15 minutes without KVM)"
    scripts/test386.sh
  fi
}

stage "gofmt" gofmt_check
stage "go vet" vet
stage "staticcheck" staticcheck ./...
stage "cross-builds ($RELEASE_TARGETS)" cross_builds
stage "go test ./..." go_tests
stage "real-kernel tests (QEMU)" real_kernel
stage "Dell unlock cycle (QEMU)" dell_cycle
stage "linux/386 (ThinkPad X60/T60-class machines)" linux_386

echo
if [ ${#failed[@]} -gt 0 ]; then
  echo "==> FAILED after $((SECONDS - t_all))s:" >&2
  printf '      %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "==> all tests passed in $((SECONDS - t_all))s"
