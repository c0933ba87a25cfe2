# Shell helpers shared by the scripts in this folder. Source it, don't run it:
#   . "$(dirname "$0")/lib.sh"
# shellcheck shell=bash

# as_root COMMAND...: run COMMAND as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "error: '$*' needs root: run this as root, or install sudo" >&2
    return 1
  fi
}

# as_postgres COMMAND...: run COMMAND as the postgres OS user (peer auth on the local socket), from /
# so that psql does not warn about a home folder it cannot read.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && sudo -u postgres "$@")
  fi
}

# apt_install PACKAGE...: install Debian's packages (with their recommends, as apt does by
# default). `apt-get update` runs first, once: it is skipped when one succeeded in the last hour
# (apt's stamp file /var/lib/apt/periodic/update-success-stamp), so scripts calling each other do
# not repeat it. LC_ALL=C.UTF-8 makes the PostgreSQL package create its cluster in UTF-8 even
# when the caller has no locale set.
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no apt-get here (not Debian?): install $* yourself" >&2
    return 1
  fi
  local stamp=/var/lib/apt/periodic/update-success-stamp log status=0
  if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
    echo "==> apt-get update"
    as_root apt-get update -qq
    as_root mkdir -p "$(dirname "$stamp")"
    as_root touch "$stamp"
  fi
  # Its chatter (debconf, invoke-rc.d, symlinks) is shown only when it fails.
  log=$(mktemp)
  as_root env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    apt-get install -y -q -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    tail -n 40 "$log" >&2
    echo "error: apt-get install $* failed ($status)" >&2
  fi
  rm -f "$log"
  return "$status"
}
