#!/usr/bin/env bash
# Builds the procpulse-agent Debian package with dpkg-deb:
# procpulse-agent_<version>_<arch>.deb, the version being the workspace's (Cargo.toml
# [workspace.package], read through cargo metadata), the architecture dpkg's.
#
#   k8s/vm/agent-deb.sh [--agent-bin PATH] [--lintian]
#
#   --agent-bin PATH  package this binary (it must report the workspace version); default:
#                     a static release build (-C target-feature=+crt-static, the host's
#                     target), which runs on any Debian/Ubuntu release, so the package
#                     depends on no library
#   --lintian         then run lintian on it; its errors fail the script (ci/deps.sh kernel
#                     installs lintian)
#
# Contents: the file layout of stage-agent.sh (binary, units, sysusers, default config),
# the binary stripped as dh_strip does (symbols and debug info removed: a panic still
# names its file and line, from the panic message, not from debug info), the maintainer
# scripts of deb/ (user, enable + start, stop, mask/purge) and deb/copyright. The
# kernel modules are not in it: they are per kernel (kernel-deb.sh, install-modules.sh).
# Output: PROCPULSE_DEB_OUT (default out/deb/); the last line on stdout is the .deb's
# path. SOURCE_DATE_EPOCH (default: the last commit's time) dates the changelog and
# clamps file times, so the same inputs give the same package.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${PROCPULSE_DEB_OUT:-$ROOT/out/deb}
PKG=procpulse-agent
MAINTAINER="procpulse maintainers <maintainers@procpulse.example.org>"
agent_bin=""
run_lintian=0
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-bin) agent_bin=${2:?--agent-bin needs a path}; shift 2 ;;
    --lintian) run_lintian=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "agent-deb.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
# shellcheck source=../../ci/lib.sh
. "$ROOT/ci/lib.sh" # built from the repository (ci/target-dir.sh), so its ci/ is at hand
log() { ci_log "$@"; }
for t in cargo jq dpkg-deb dpkg strip gzip; do
  command -v "$t" >/dev/null || { log "$t not found"; exit 1; }
done

version=$(cd "$ROOT" && cargo metadata --format-version 1 --no-deps --offline |
  jq -r --arg p "$PKG" '.packages[] | select(.name == $p) | .version')
[ -n "$version" ] || { log "no $PKG package in the workspace"; exit 1; }
arch=$(dpkg --print-architecture)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}

if [ -z "$agent_bin" ]; then
  target=$(rustc -vV | sed -n 's/^host: //p')
  log "building static $PKG $version ($target, release)"
  (cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' \
    nice -n 19 cargo build --quiet --release --locked -j2 --target "$target" -p "$PKG") >&2
  agent_bin=$("$ROOT/ci/target-dir.sh")/$target/release/$PKG
fi
[ -x "$agent_bin" ] || { log "$agent_bin is not an executable"; exit 1; }
reported=$("$agent_bin" --version) || { log "$agent_bin --version failed"; exit 1; }
[ "$reported" = "$PKG $version" ] ||
  { log "$agent_bin reports '$reported', the workspace is $version: rebuild it"; exit 1; }

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/procpulse-deb.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
R=$STAGE/root
"$HERE/stage-agent.sh" "$R" "$agent_bin"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$R/usr/bin/$PKG"
doc=$R/usr/share/doc/$PKG
install -d -m 0755 "$doc"
install -m 0644 "$HERE/deb/copyright" "$doc/copyright"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf '%s\n' "$PKG ($version) unstable; urgency=medium" "" \
  "  * Built from the procpulse repository at $commit by k8s/vm/agent-deb.sh." "" \
  " -- $MAINTAINER  $(date -u -R -d "@$SOURCE_DATE_EPOCH")" |
  gzip -9n >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
install -d -m 0755 "$R/usr/share/lintian/overrides" "$R/usr/share/man/man1"
install -m 0644 "$HERE/deb/lintian-overrides" "$R/usr/share/lintian/overrides/$PKG"
# The manual page is the binary's own --help (one source), in a no-fill block.
{
  printf '.TH PROCPULSE-AGENT 1 "%s" "%s %s" "User Commands"\n' \
    "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)" "$PKG" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$PKG" "$("$R/usr/bin/$PKG" --help | head -n 1 | sed 's/-/\\-/g')"
  printf '.SH DESCRIPTION\n.nf\n'
  "$R/usr/bin/$PKG" --help | tail -n +2 | sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"
  printf '.fi\n.SH FILES\n.TP\n/etc/default/procpulse\\-agent\nsettings (PROCPULSE_* variables) of procpulse\\-agent.service\n'
  printf '.TP\n/etc/procpulse/agent\\-web\\-config.toml\nTLS and authentication (PROCPULSE_WEB_CONFIG)\n'
  printf '.SH SEE ALSO\n\\fBsystemctl\\fR(1): systemctl status procpulse\\-agent\n'
} | gzip -9n >"$R/usr/share/man/man1/$PKG.1.gz"
chmod 0644 "$R/usr/share/man/man1/$PKG.1.gz"

install -d -m 0755 "$R/DEBIAN"
install -m 0755 "$HERE/deb/postinst" "$HERE/deb/prerm" "$HERE/deb/postrm" "$R/DEBIAN/"
printf '%s\n' /etc/default/procpulse-agent /etc/procpulse/agent-web-config.toml >"$R/DEBIAN/conffiles"
size=$(du -sk --exclude=DEBIAN "$R" | cut -f1)
cat >"$R/DEBIAN/control" <<CONTROL
Package: $PKG
Version: $version
Architecture: $arch
Maintainer: $MAINTAINER
Installed-Size: $size
Depends: systemd
Section: admin
Priority: optional
Description: procpulse agent: this machine's CPU, memory and processes over HTTP
 Serves snapshots of the host (per-CPU times by mode, memory, swap, load,
 process states and the top processes) as JSON and Prometheus metrics on
 port 5200, read from the procpulse kernel modules when they are loaded and
 from /proc otherwise; it can also push snapshots to procpulse ingest.
 .
 Runs as procpulse-agent.service under the dedicated system user procpulse,
 sandboxed (read-only /proc, no capabilities). Settings are in
 /etc/default/procpulse-agent, TLS and authentication in
 /etc/procpulse/agent-web-config.toml.
CONTROL
(cd "$R" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
  xargs -0 md5sum) >"$R/DEBIAN/md5sums"
chmod 0644 "$R/DEBIAN/control" "$R/DEBIAN/conffiles" "$R/DEBIAN/md5sums"

mkdir -p "$OUT"
deb=$OUT/${PKG}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$R" "$deb" >/dev/null
log "built $deb ($(du -h "$deb" | cut -f1))"
if [ "$run_lintian" = 1 ]; then
  command -v lintian >/dev/null || { log "lintian not found (ci/deps.sh kernel installs it)"; exit 1; }
  lintian --fail-on error --info "$deb" >&2 || { log "lintian reports errors"; exit 1; }
  log "lintian: no errors"
fi
echo "$deb"
