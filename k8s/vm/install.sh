#!/usr/bin/env bash
# Sets up a machine WITHOUT dpkg (Fedora, Arch, ...) as a procpulse monitored machine: the
# agent under systemd on 0.0.0.0:5200 as a dedicated user, and (optionally) the kernel
# modules. On Debian/Ubuntu install the package instead (k8s/vm/agent-deb.sh builds it):
#   sudo apt install ./procpulse-agent_<version>_<arch>.deb
# Both install the same files at the same paths (k8s/vm/stage-agent.sh); this script
# refuses to overwrite the package's.
#
#   sudo k8s/vm/install.sh --agent-bin PATH [--modules DIR]
#
#   --agent-bin PATH  the procpulse-agent binary (a static build runs on any distro:
#                     RUSTFLAGS="-C target-feature=+crt-static" cargo build --release
#                     --target x86_64-unknown-linux-gnu -p procpulse-agent)
#   --modules DIR     also install procpulse_{cpu,ram,procs}.ko from DIR
#                     (install-modules.sh; needs the Rust-enabled kernel of
#                     k8s/vm/kernel-deb.sh); without them the agent falls back to plain
#                     /proc (source "procfs")
#
# In a chroot (preparing a VM image: `chroot /mnt /path/to/vm/install.sh ...`) it
# installs, creates the user and enables the unit but starts nothing: the agent starts at
# the image's next boot. PROCPULSE_DESTDIR=/some/root only stages the files under that
# root (used by ci/test-k8s.sh). Idempotent: running it again upgrades binary and units
# and keeps /etc/default/procpulse-agent and the web config.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DESTDIR=${PROCPULSE_DESTDIR:-}
agent_bin=""
modules=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent-bin) agent_bin=${2:?}; shift 2 ;;
    --modules) modules=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
log() { echo "install.sh: $*" >&2; }
# A chroot: / is not the root of PID 1 (or /proc is not even mounted).
in_chroot() { [ "$(stat -Lc %d:%i / 2>/dev/null)" != "$(stat -Lc %d:%i /proc/1/root/ 2>/dev/null)" ]; }
[ -n "$agent_bin" ] || { log "--agent-bin PATH is required"; exit 2; }
[ -x "$agent_bin" ] || { log "$agent_bin is not an executable"; exit 1; }
if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then log "run as root"; exit 1; fi
if [ -z "$DESTDIR" ] && dpkg-query -W -f='${Status}' procpulse-agent 2>/dev/null | grep -q ' installed$'; then
  log "the procpulse-agent package is installed: upgrade it with apt install ./procpulse-agent_*.deb"
  exit 1
fi

# Files of the layout before the package existed (/usr/local/bin, /etc/systemd/system,
# /etc/modules-load.d): left in place, the old unit would shadow the new one and the old
# modules list would log errors on kernels without the modules. Only ours are removed.
if [ -z "$DESTDIR" ]; then
  old_unit=/etc/systemd/system/procpulse-agent.service
  if grep -qs '^ExecStart=/usr/local/bin/procpulse-agent' "$old_unit"; then
    log "removing $old_unit and /usr/local/bin/procpulse-agent (earlier layout)"
    rm -f "$old_unit" /usr/local/bin/procpulse-agent
  fi
  if grep -qs '^procpulse_cpu$' /etc/modules-load.d/procpulse.conf; then
    log "removing /etc/modules-load.d/procpulse.conf (earlier layout; procpulse-modules.service loads them now)"
    rm -f /etc/modules-load.d/procpulse.conf
  fi
fi
"$HERE/stage-agent.sh" "${DESTDIR:-/}" "$agent_bin"
if [ -n "$modules" ]; then
  PROCPULSE_DESTDIR=$DESTDIR "$HERE/install-modules.sh" "$modules"
fi
if [ -n "$DESTDIR" ]; then
  log "staged under $DESTDIR"
  exit 0
fi

systemd-sysusers procpulse.conf
if in_chroot; then
  # systemctl works offline in a chroot: it only creates the [Install] symlinks.
  systemctl enable procpulse-agent.service
  log "in a chroot: user procpulse created, procpulse-agent.service enabled; it starts at the next boot"
  exit 0
fi
systemctl daemon-reload
systemctl enable procpulse-agent.service
systemctl restart procpulse-agent.service
for _ in $(seq 50); do
  if curl -fsS -m 2 http://127.0.0.1:5200/healthz >/dev/null 2>&1; then break; fi
  sleep 0.2
done
curl -fsS -m 5 http://127.0.0.1:5200/healthz >/dev/null || {
  journalctl -u procpulse-agent.service -n 30 --no-pager >&2
  log "the agent does not answer on :5200"
  exit 1
}
source=$(curl -fsS -m 5 http://127.0.0.1:5200/api/v1/snapshot | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p')
log "procpulse-agent is running on 0.0.0.0:5200 (source: ${source:-unknown})"
