#!/usr/bin/env bash
# A newcomer's machine: proves the README's two commands on a stock Debian 12.
#
#   1. a clean Debian 12 root file system (debootstrap minbase + git + ca-certificates: what
#      someone who cloned the repository has; Debian's own archive only, so no NodeSource),
#      cached in $PROCPULSE_CACHE_DIR/fresh-rootfs and used through an overlay, so every run
#      starts from the same pristine tree;
#   2. the host's rustup toolchain bind-mounted at its own paths (rustup cannot download here),
#      and cargo's target directory shared with the host's, so that compiled dependencies are
#      reused (same toolchain, same glibc); every workspace crate and every link still happens
#      inside, against the packages installed inside;
#   3. `git clone` of this repository inside (its committed HEAD), at the host checkout's own
#      path, so that cargo's artefacts of the workspace crates line up with the host's;
#   4. the README's main command, `ci/stack.sh --monitor host --no-wait`, then the test command
#      with the fast stages ($PROCPULSE_FRESH_STAGES, default "rust web": the Rust unit tests
#      and the dashboard's unit + end-to-end tests on Debian's own Node);
#   5. checks that the SQLite stack installed no MariaDB, Node or Chromium, and which Node ran
#      the dashboard's tests.
#
# Fails if either command needs something the project's own scripts did not install. Runs as
# root (chroot, mounts). Logs: $CI_LOG_DIR/fresh/. Usage: ci/test-fresh.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
LOGS=${CI_LOG_DIR:-/tmp/procpulse-logs}/fresh
SUITE=bookworm
MIRROR=${PROCPULSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(git ca-certificates)
read -r -a STAGES <<<"${PROCPULSE_FRESH_STAGES:-rust web}"
ROOTFS_RECIPE=3 # bump when the recipe below changes in a way the key cannot see

# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh"
log() { ci_stamp fresh "$@" >&2; }
die() { log "FAIL: $*"; exit 1; }
# shellcheck source=ci/progress.sh
. "$ROOT/ci/progress.sh"
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mounts)"
# The clone is HEAD and shares the target directory: built from HEAD while the work tree
# differs, the artefacts would look newer than the edited files to the next host build.
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no)" ] ||
  die "uncommitted changes in $ROOT: commit them first (the fresh machine clones HEAD)"
"$ROOT/ci/deps.sh" base kernel >&2 # debootstrap is in the kernel group (the VM image uses it)
rm -rf "$LOGS" && mkdir -p "$LOGS"
t_all=$SECONDS

# --- 1. the pristine root file system (cached) ------------------------------------------
KEY=$(printf '%s\n' "recipe $ROOTFS_RECIPE" "$SUITE" "$MIRROR" minbase "${PACKAGES[@]}" | sha256sum | cut -c1-16)
BASE=$CACHE/fresh-rootfs/$SUITE-$KEY
mkdir -p "$CACHE/fresh-rootfs"
(
  flock 9
  [ ! -f "$BASE/.procpulse-done" ] || exit 0
  # Trees of older recipes are never used again.
  find "$CACHE/fresh-rootfs" -mindepth 1 -maxdepth 1 -type d -name "$SUITE-*" -exec rm -rf --one-file-system {} +
  log "debootstrap $SUITE (minbase + ${PACKAGES[*]}) from $MIRROR: once, then cached in $BASE"
  with_progress "  debootstrap" "$LOGS/debootstrap.log" \
    debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" "$SUITE" "$BASE" "$MIRROR" ||
    { tail -n 30 "$LOGS/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$BASE"/var/cache/apt/archives/*.deb
  # What the Debian installer writes and debootstrap does not: the host names (the
  # dashboard's unit tests resolve `localhost`) and the archive areas.
  echo procpulse-fresh >"$BASE/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\tprocpulse-fresh\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$BASE/etc/hosts"
  printf 'deb %s %s main\n' "$MIRROR" "$SUITE" "$MIRROR" "$SUITE-updates" \
    "${MIRROR%/debian}/debian-security" "$SUITE-security" >"$BASE/etc/apt/sources.list"
  touch "$BASE/.procpulse-done"
) 9>"$CACHE/fresh-rootfs/.lock"
log "rootfs: $BASE ($(du -sh --one-file-system "$BASE" | cut -f1))"

# --- 2. the machine: an overlay over the pristine tree, the toolchain bind-mounted -------
TMP=$(mktemp -d /tmp/procpulse-fresh.XXXXXX)
R=$TMP/root
RUSTUP_DIR=$(rustup show home)
CARGO_DIR=${CARGO_HOME:-$HOME/.cargo}
TARGET=$("$ROOT/ci/target-dir.sh")
mkdir -p "$TMP"/{upper,work} "$R" "$TARGET" "$CACHE/fresh-apt" "$CACHE/fresh-npm"

# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
  local rc=$? p
  set +e # every step below runs, whatever the one before did
  # Whatever a stage left running inside (nginx, mariadbd, an agent) goes first.
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  sleep 0.5
  umount -R "$R" 2>/dev/null || umount -R -l "$R" 2>/dev/null || true
  if grep -qF " $TMP/" /proc/mounts; then
    log "something is still mounted under $TMP: left in place"
  else
    rm -rf --one-file-system "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$TMP/upper,workdir=$TMP/work" "$R"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys" && mount --make-rslave "$R/sys"
mount --rbind /dev "$R/dev" && mount --make-rslave "$R/dev"
bind() { # host path, read-only?: the same path inside
  mkdir -p "$R$1"
  mount --bind "$1" "$R$1"
  [ "${2:-}" != ro ] || mount -o remount,bind,ro "$R$1"
}
ORIGIN=/mnt/procpulse-origin
mkdir -p "$R$ORIGIN" && mount --bind "$ROOT" "$R$ORIGIN" && mount -o remount,bind,ro "$R$ORIGIN"
bind "$RUSTUP_DIR" ro
bind "$CARGO_DIR"
mkdir -p "$R/var/cache/apt/archives" "$R/root/.npm"
mount --bind "$CACHE/fresh-apt" "$R/var/cache/apt/archives" # downloads only, kept between runs
mount --bind "$CACHE/fresh-npm" "$R/root/.npm"
# The network this machine reaches the package registries through comes along, as a
# newcomer's machine has its own: name servers, the local CA certificates (here a
# TLS-inspecting egress proxy's), and the proxy/CA variables below.
cp /etc/resolv.conf "$R/etc/resolv.conf"
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
  chroot "$R" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed inside"
fi
NET_ENV=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY NODE_EXTRA_CA_CERTS \
  SSL_CERT_FILE SSL_CERT_DIR CURL_CA_BUNDLE REQUESTS_CA_BUNDLE PIP_CERT GIT_SSL_CAINFO; do
  [ -z "${!v:-}" ] || NET_ENV+=("$v=${!v}")
done
# As in a container: packages install, their daemons do not start (the project starts its own).
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d" && chmod +x "$R/usr/sbin/policy-rc.d"
node_before=$(chroot "$R" sh -c 'command -v node || echo none')
[ "$node_before" = none ] || die "the pristine rootfs has a node ($node_before)"

inside() { # bash command line, run in the fresh machine as its root user, in the clone
  chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb "${NET_ENV[@]}" \
    PATH="$CARGO_DIR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    RUSTUP_HOME="$RUSTUP_DIR" CARGO_HOME="$CARGO_DIR" CARGO_TARGET_DIR="$TARGET" \
    CI_LOG_DIR=/tmp/procpulse-logs bash -c "cd '$ROOT' 2>/dev/null || cd /root; $1"
}

# --- 3. the clone -------------------------------------------------------------------------
inside "git -c safe.directory='*' clone -q $ORIGIN '$ROOT'" || die "git clone inside failed"
bind "$TARGET" # after the clone: it may live inside the checkout
log "cloned $(inside 'git log -1 --format="%h %s" | cut -c1-72')"

# --- 4. the README's two commands ----------------------------------------------------------
declare -A T=()
status=0
t0=$SECONDS
log "main command: ci/stack.sh --monitor host --no-wait (log: $LOGS/stack.log)"
if with_progress "  stack" "$LOGS/stack.log" inside "ci/stack.sh --monitor host --no-wait"; then
  T[stack]=$((SECONDS - t0)); log "main command: PASS (${T[stack]} s)"
  sed -n '/procpulse local stack: summary/,$p' "$LOGS/stack.log" | head -n 20 >&2
else
  T[stack]=$((SECONDS - t0)); log "main command: FAIL (${T[stack]} s)"; tail -n 40 "$LOGS/stack.log" >&2; status=1
fi
for pkg in mariadb-server chromium nodejs; do
  if inside "dpkg-query -W -f='\${Status}' $pkg 2>/dev/null | grep -q 'install ok installed'"; then
    log "FAIL: the SQLite stack installed $pkg, which it does not use"; status=1
  fi
done

t0=$SECONDS
log "test command: ci/test.sh ${STAGES[*]} (log: $LOGS/test.log)"
if with_progress "  tests" "$LOGS/test.log" inside "ci/test.sh ${STAGES[*]}"; then
  T[tests]=$((SECONDS - t0)); log "test command: PASS (${T[tests]} s)"
else
  T[tests]=$((SECONDS - t0)); log "test command: FAIL (${T[tests]} s)"; status=1
fi
grep -E '^\[test.sh|passed, .* failed' "$LOGS/test.log" >&2 || true
# shellcheck disable=SC2016 # ${Version} is dpkg-query's format, expanded by no shell
log "Node inside: $(inside 'command -v node && node --version && dpkg-query -W -f="\${Version}" nodejs' | tr '\n' ' ')"
cp -r "$R/tmp/procpulse-logs" "$LOGS/inside" 2>/dev/null || true

log "timings: stack ${T[stack]} s, tests ${T[tests]} s, whole run $((SECONDS - t_all)) s"
if [ "$status" -eq 0 ]; then echo "fresh machine: 2 passed, 0 failed"; else echo "fresh machine: failed (logs: $LOGS)"; fi
exit "$status"
