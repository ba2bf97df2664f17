# Shared helpers for scripts/*.sh. Source it; it defines functions and
# settings only.

# The release targets: scripts/build.sh builds them, scripts/test.sh makes
# sure each still compiles.
RELEASE_TARGETS="linux/amd64 linux/386 openbsd/amd64 netbsd/amd64 freebsd/amd64"

# need_root_cmd prints the prefix that runs a command as root ("" as root,
# "sudo" when available), or fails.
need_root_cmd() {
  if [ "$(id -u)" = 0 ]; then echo ""; return; fi
  if command -v sudo >/dev/null 2>&1; then echo "sudo"; return; fi
  echo "libreflash: error: installing packages needs root (or sudo)" >&2
  return 1
}

# ensure_pkgs PKG...: install the Debian packages that are missing, without
# prompting. apt-get update runs only when something is missing.
ensure_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo; sudo=$(need_root_cmd) || return 1
  echo "==> installing Debian packages: ${missing[*]}" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# ensure_go makes sure a Go toolchain is on PATH (Debian's golang-go when
# none is) and puts GOPATH/bin on PATH for tools installed with go install.
ensure_go() {
  if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
    export PATH="/usr/local/go/bin:$PATH"
  fi
  command -v go >/dev/null 2>&1 || ensure_pkgs golang-go
  export PATH="$(go env GOPATH)/bin:$PATH"
}

# Flasher tools live in /usr/sbin on Debian; make sure it is searched.
case ":$PATH:" in *:/usr/sbin:*) ;; *) export PATH="$PATH:/usr/sbin:/sbin" ;; esac
