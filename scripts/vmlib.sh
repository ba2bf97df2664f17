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

# The guest machine and CPU model every boot uses; VMTEST_CPU replaces the
# CPU model.
vm_machine=q35
vm_cpu=${VMTEST_CPU:-max}
# The KVM device (a variable so that tests can point it at a stand-in).
vm_kvm_dev=/dev/kvm

# vm_accel: set accel to kvm when KVM can really run the guests, else tcg;
# VMTEST_ACCEL=kvm|tcg overrides. Call it after vm_kernel. Two probes, both
# with the guests' own machine and CPU model: the machine alone for 3 s (a
# vCPU is created and reset, which is where a KVM that cannot take the CPU
# model's MSRs aborts), then the kernel booted without a root file system,
# which must get as far as its panic within 30 s (a KVM that starts the
# firmware but hangs the kernel fails here). A failed probe is reported with
# qemu's own words.
vm_accel() {
  case ${VMTEST_ACCEL:-} in
    kvm|tcg) accel=$VMTEST_ACCEL; vm_log "accelerator $accel (VMTEST_ACCEL)"; return 0 ;;
    "") ;;
    *) vm_die "VMTEST_ACCEL=$VMTEST_ACCEL: want kvm or tcg" ;;
  esac
  accel=tcg
  if [ ! -w "$vm_kvm_dev" ]; then
    vm_log "no writable $vm_kvm_dev: using TCG (slower)"
    return 0
  fi
  local rc=0 tmp why=
  tmp=$(mktemp -d)
  # (In a subshell, so that bash's own "Aborted" line for a qemu that
  # aborts does not reach the terminal.)
  (timeout "${vm_probe_secs:-3}" qemu-system-x86_64 -accel kvm -M "$vm_machine" -cpu "$vm_cpu" -m 64 \
    -nodefaults -no-user-config -display none -monitor none </dev/null >"$tmp/out" 2>&1 || exit) 2>/dev/null || rc=$?
  # 124: timeout stopped it (GNU coreutils); 143: busybox's timeout.
  if [ "$rc" != 124 ] && [ "$rc" != 143 ]; then
    why="qemu exit $rc"
  elif [ -n "${vmlinuz:-}" ]; then
    rc=0
    (timeout "${vm_probe_kernel_secs:-30}" qemu-system-x86_64 -accel kvm -M "$vm_machine" -cpu "$vm_cpu" -m 256 \
      -kernel "$vmlinuz" -append "console=ttyS0 panic=-1" -no-reboot \
      -nodefaults -no-user-config -display none -monitor none -serial "file:$tmp/console" \
      </dev/null >"$tmp/out" 2>&1 || exit) 2>/dev/null || rc=$?
    if ! grep -q 'Kernel panic' "$tmp/console" 2>/dev/null; then
      why="the kernel did not get to its first panic in ${vm_probe_kernel_secs:-30}s (qemu exit $rc)"
    fi
  fi
  if [ -z "$why" ]; then
    accel=kvm
  else
    vm_log "KVM cannot run -M $vm_machine -cpu $vm_cpu here ($why): using TCG (slower). qemu said:"
    sed 's/^/    /' "$tmp/out" | tail -n 5 >&2
  fi
  rm -rf "$tmp"
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

# vm_add_module ROOT NAME: copy the kernel module NAME (from vm_kernel's
# package) and the modules it depends on into ROOT at their paths; call
# vm_depmod ROOT once they are all there.
vm_add_module() {
  local root=$1 name=$2 f dep
  f=$(find "$moddir/kernel" -name "$name.ko" -o -name "${name//_/-}.ko" | head -n1)
  [ -n "$f" ] || vm_die "module $name not in $kpkg"
  [ -e "$root${f#"$kdir"}" ] && return 0
  mkdir -p "$root$(dirname "${f#"$kdir"}")"
  cp "$f" "$root${f#"$kdir"}"
  for dep in $(tr '\0' '\n' <"$f" | sed -n 's/^depends=//p' | tr ',' ' '); do vm_add_module "$root" "$dep"; done
}

# vm_depmod ROOT: the module index for modprobe in the guest.
vm_depmod() {
  cp "$moddir"/modules.{order,builtin} "$1/lib/modules/$rel/" 2>/dev/null || true
  busybox depmod -b "$1" "$rel"
}

# vm_cpio ROOT OUT: pack ROOT as a newc initramfs.
vm_cpio() {
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) >"$2"
}

# vm_qemu NAME DIR TIMEOUT QEMU-ARGS...: run one guest, bounded, with its
# console in DIR/console.log and its second serial port (the results) in
# DIR/results.txt; qemu's own output goes to DIR/qemu.out, its exit status
# to DIR/qemu.rc. A KVM boot that fails before the guest sent any result
# (qemu aborting as it sets up the vCPU, a kernel that hangs under this KVM)
# is run again under TCG with the timeout times vm_tcg_scale (default 3),
# and the boots after it (guests sharing DIR's parent) go straight to TCG.
# A guest that sent results and then failed is not retried. A failing
# qemu's own output is shown.
vm_qemu() {
  local name=$1 dir=$2 t=$3; shift 3
  local args=("$@") i kvm_failed
  kvm_failed="$(dirname "$dir")/kvm-failed"
  mkdir -p "$dir"
  if [[ " ${args[*]} " == *" -accel kvm "* ]] && [ -e "$kvm_failed" ]; then
    vm_log "boot $name: KVM failed an earlier boot; using TCG"
    _vm_tcg args
    t=$((t * ${vm_tcg_scale:-3}))
  fi
  _vm_qemu_once "$name" "$dir" "$t" "${args[@]}"
  local rc; rc=$(cat "$dir/qemu.rc")
  if [ "$rc" != 0 ] && [ ! -s "$dir/results.txt" ] && [[ " ${args[*]} " == *" -accel kvm "* ]]; then
    vm_log "boot $name: KVM boot failed before the guest sent anything (qemu exit $rc); retrying under TCG. qemu said:"
    sed 's/^/    /' "$dir/qemu.out" | tail -n 5 >&2
    mv "$dir/qemu.out" "$dir/qemu-kvm.out"
    mv "$dir/console.log" "$dir/console-kvm.log"
    : >"$kvm_failed"
    _vm_tcg args
    _vm_qemu_once "$name" "$dir" "$((t * ${vm_tcg_scale:-3}))" "${args[@]}"
    rc=$(cat "$dir/qemu.rc")
  fi
  if [ "$rc" != 0 ] && [ -s "$dir/qemu.out" ]; then
    vm_log "boot $name: qemu said:"
    sed 's/^/    /' "$dir/qemu.out" | tail -n 10 >&2
  fi
  return 0
}

# _vm_tcg ARRAY: replace "-accel kvm" by "-accel tcg" in the named array.
_vm_tcg() {
  local -n _a=$1
  local i
  for i in "${!_a[@]}"; do
    if [ "${_a[$i]}" = -accel ] && [ "${_a[$((i + 1))]}" = kvm ]; then _a[$((i + 1))]=tcg; fi
  done
}

_vm_qemu_once() {
  local name=$1 dir=$2 t=$3; shift 3
  local t0=$SECONDS rc=0 accel_used=?
  local a prev=
  for a in "$@"; do [ "$prev" = -accel ] && accel_used=$a; prev=$a; done
  : >"$dir/console.log"
  : >"$dir/results.txt"
  vm_log "boot $name: starting ($accel_used, up to ${t}s)"
  (timeout -k 5 "$t" qemu-system-x86_64 "$@" \
    -nodefaults -no-user-config -nographic -no-reboot -monitor none \
    -serial "file:$dir/console.log" -serial "file:$dir/results.txt" \
    </dev/null >"$dir/qemu.out" 2>&1 || exit) 2>/dev/null || rc=$?
  echo "$rc" >"$dir/qemu.rc"
  vm_log "boot $name: qemu exit $rc in $((SECONDS - t0))s ($accel_used)"
}

# vm_finished DIR: whether the guest got to "=== DONE ===".
vm_finished() {
  grep -q '^=== DONE ===' "$1/results.txt" 2>/dev/null
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
