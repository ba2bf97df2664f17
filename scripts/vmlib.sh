# Shared by scripts/vmtest.sh and scripts/test386.sh: Debian's kernel fetched
# without installing it, a busybox initramfs, one qemu-system-x86_64 boot
# under a timeout, and the serial-port marker protocol. Source it after
# scripts/lib.sh, with vm_tag set (the prefix of log lines); it defines
# functions only.
#
# Marker protocol: the guest writes each result to its second serial port as
# "=== BEGIN dir/name ===", the file gzip'ed and base64'ed, then
# "=== END dir/name rc=N ===", and "=== DONE ===" once it is finished.

vm_log() { echo "${vm_tag:-vm}: $*" >&2; }
vm_die() { echo "${vm_tag:-vm}: error: $*" >&2; exit 1; }

# --- Debian packages used without installing them: apt-get download into
# the cache, dpkg -x next to it; a new candidate version replaces the old.
vm_cache=${XDG_CACHE_HOME:-$HOME/.cache}/libreflash-vmtest
vm_apt_updated=0
vm_apt_update() {
  $(need_root_cmd) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  vm_apt_updated=1
}
# vm_fetch PKG: print the directory PKG's candidate version is unpacked in.
# Call it as dir=$(vm_fetch PKG): it runs in a subshell, so an apt-get
# update it needed is remembered by apt, not here.
vm_fetch() {
  local pkg=$1 ver deb dir
  mkdir -p "$vm_cache"
  ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  if { [ -z "$ver" ] || [ "$ver" = "(none)" ]; } && [ "$vm_apt_updated" = 0 ]; then
    vm_apt_update
    ver=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2}')
  fi
  { [ -n "$ver" ] && [ "$ver" != "(none)" ]; } || vm_die "apt knows no package $pkg"
  deb="$vm_cache/${pkg}_${ver//:/%3a}_amd64.deb"
  if [ ! -s "$deb" ]; then
    vm_log "downloading $pkg $ver"
    rm -rf "$vm_cache/${pkg}_"*
    # apt-get download writes into the current directory; _apt cannot read
    # a root-owned cache, which only costs a warning.
    (cd "$vm_cache" && apt-get download -q "$pkg=$ver" 2>&1 | grep -v 'unsandboxed' >&2 || true)
    [ -s "$deb" ] || vm_die "apt-get download $pkg=$ver failed"
  fi
  dir=${deb%.deb}
  if [ ! -e "$dir/.done" ]; then
    vm_log "unpacking $(basename "$deb")"
    rm -rf "$dir"
    dpkg -x "$deb" "$dir"
    touch "$dir/.done"
  fi
  echo "$dir"
}

# vm_kernel: fetch the kernel package linux-image-amd64 depends on; sets
# kpkg (its name), kdir, vmlinuz, rel (uname -r), kconfig and moddir.
vm_kernel() {
  _vm_kpkg() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
  kpkg=$(_vm_kpkg)
  if [ -z "$kpkg" ]; then
    vm_apt_update
    kpkg=$(_vm_kpkg)
  fi
  [ -n "$kpkg" ] || vm_die "apt knows no linux-image-amd64"
  kdir=$(vm_fetch "$kpkg")
  vmlinuz=$(ls "$kdir"/boot/vmlinuz-* | head -n1)
  rel=${vmlinuz##*/vmlinuz-}
  kconfig="$kdir/boot/config-$rel"
  moddir="$kdir/lib/modules/$rel"
}

# vm_accel: set accel to kvm when /dev/kvm really works (qemu still running
# after 3 s means it initialised), else tcg; VMTEST_ACCEL overrides.
vm_accel() {
  accel=${VMTEST_ACCEL:-tcg}
  if [ -z "${VMTEST_ACCEL:-}" ] && [ -w /dev/kvm ]; then
    local rc=0
    timeout 3 qemu-system-x86_64 -accel kvm -M none -nodefaults -display none -monitor none \
      </dev/null >/dev/null 2>&1 || rc=$?
    [ "$rc" = 124 ] && accel=kvm
  fi
  return 0
}

# vm_rootfs ROOT: the skeleton of an initramfs with a static busybox.
vm_rootfs() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,proc,sys,dev,tmp,etc,boot,run}
  cp "$(command -v busybox)" "$root/bin/busybox"
}

# vm_add_exe ROOT PATH: copy a host executable to the same path in ROOT,
# with the shared libraries it links and the loader, at their paths.
vm_add_exe() {
  local root=$1 exe=$2 lib
  mkdir -p "$root$(dirname "$exe")"
  cp "$exe" "$root$exe"
  ldd "$exe" | awk '/=> \// {print $3} /^[ \t]*\// {print $1}' | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# vm_cpio ROOT OUT: pack ROOT as a newc initramfs.
vm_cpio() {
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$2"
}

# vm_qemu NAME DIR TIMEOUT QEMU-ARGS...: run one guest, bounded, with its
# console in DIR/console.log and its second serial port (the results) in
# DIR/results.txt; qemu's own output goes to DIR/qemu.out, its exit status
# to DIR/qemu.rc.
vm_qemu() {
  local name=$1 dir=$2 t=$3; shift 3
  mkdir -p "$dir"
  local t0=$SECONDS rc=0
  timeout -k 5 "$t" qemu-system-x86_64 "$@" \
    -nodefaults -no-user-config -nographic -no-reboot -monitor none \
    -serial "file:$dir/console.log" -serial "file:$dir/results.txt" \
    </dev/null >"$dir/qemu.out" 2>&1 || rc=$?
  echo "$rc" >"$dir/qemu.rc"
  vm_log "boot $name: qemu rc=$rc in $((SECONDS - t0))s"
}

# vm_finished DIR: whether the guest got to "=== DONE ===".
vm_finished() {
  grep -q '^=== DONE ===' <(tr -d '\r' <"$1/results.txt")
}

# vm_results RESULTS OUT: split the marker sections of RESULTS into
# OUT/<dir>/<name> and OUT/<dir>/<name>.rc.
vm_results() {
  local out=$2 f
  tr -d '\r' <"$1" | awk -v out="$out" '
    /^=== BEGIN .* ===$/ { name = $3; f = out "/" name ".b64"; sub(/\/[^\/]*$/, "", name); system("mkdir -p \"" out "/" name "\""); printf "" > f; next }
    /^=== END .* rc=[0-9]+ ===$/ { close(f); rc = $4; sub(/^rc=/, "", rc); n = $3; print rc > (out "/" n ".rc"); close(out "/" n ".rc"); f = ""; next }
    f != "" { print >> f }'
}

# vm_decode OUT: decode every section vm_results left in OUT.
vm_decode() {
  find "$1" -name '*.b64' | while read -r f; do
    base64 -d <"$f" | gzip -dc >"${f%.b64}" && rm -f "$f"
  done
}
