#!/usr/bin/env bash
# Installs what procpulse's build, tests and benchmarks need on Debian 12.
# Usage: ci/deps.sh [group...]   groups: base kernel sqlite nginx mariadb web bench prom alerts,
#        and db (= sqlite nginx mariadb); default: all
# Idempotent: packages already present are skipped, so a warm machine pays ~1 s.
set -euo pipefail

args=("$@")
[ $# -gt 0 ] || args=(base kernel db web bench prom alerts)
groups=()
for g in "${args[@]}"; do
  case $g in db) groups+=(sqlite nginx mariadb) ;; *) groups+=("$g") ;; esac
done

declare -A PKGS=(
  [base]="build-essential pkg-config curl ca-certificates procps psmisc jq python3-venv"
  [kernel]="linux-source-6.12 rustc-web rust-web-src bc bison flex libelf-dev libssl-dev cpio busybox-static qemu-system-x86 libclang-dev xz-utils linux-config-6.12 dpkg-dev rsync kmod debootstrap debhelper lintian"
  # The SQLite stack (ci/stack.sh) needs only sqlite and nginx; `db` is all three.
  [sqlite]="libsqlite3-dev sqlite3"
  [nginx]="nginx-light"
  [mariadb]="mariadb-server mariadb-client"
  [web]="chromium nodejs"
  [bench]="wrk prometheus-node-exporter hyperfine"
  # ci/test-prometheus.sh: a real Prometheus 2.42 (+ promtool), node_exporter to compare
  # with, and a strict OpenMetrics parser (python3 prometheus_client).
  [prom]="prometheus prometheus-node-exporter python3-prometheus-client"
  # The broadcaster's alert tests deliver to a real Alertmanager (0.25).
  [alerts]="prometheus-alertmanager"
)

want=()
for g in "${groups[@]}"; do
  [ -n "${PKGS[$g]+x}" ] || { echo "deps.sh: unknown group '$g' (base kernel sqlite nginx mariadb db web bench prom alerts)" >&2; exit 2; }
  for p in ${PKGS[$g]}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || want+=("$p")
  done
done

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
apt_install() { # package...
  echo "deps.sh: installing $*"
  # Refresh lists at most once an hour.
  local stamp=/var/lib/apt/periodic/procpulse-update-stamp
  if [ ! -f "$stamp" ] || [ -n "$(find "$stamp" -mmin +60 2>/dev/null)" ]; then
    $SUDO apt-get update -qq
    $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if [ ${#want[@]} -gt 0 ]; then
  apt_install "${want[@]}"
  # Debian starts packaged daemons on install; procpulse runs its own private instances.
  for svc in mariadb nginx prometheus prometheus-node-exporter prometheus-alertmanager; do
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

# npm: Debian 12's nodejs (Node 18) leaves it to the separate `npm` package; NodeSource's nodejs
# ships npm itself and conflicts with Debian's. So it is decided only once nodejs is installed,
# by whether npm is there.
if [[ " ${groups[*]} " == *" web "* ]] && ! command -v npm >/dev/null 2>&1; then apt_install npm; fi
