#!/usr/bin/env bash
# The agent's files at their installed paths under a root directory: the one layout of
# the procpulse-agent .deb (agent-deb.sh stages its tree with it) and of install.sh (hosts
# without dpkg), so the unit, sysusers and config files exist once, here in k8s/vm/.
#
#   k8s/vm/stage-agent.sh ROOT AGENT_BIN
#
#   /usr/bin/procpulse-agent                          AGENT_BIN
#   /usr/lib/systemd/system/procpulse-agent.service   procpulse-agent.service
#   /usr/lib/systemd/system/procpulse-modules.service procpulse-modules.service (loads the
#                                                     kernel modules if built for the kernel)
#   /usr/share/procpulse/modules-load.conf            modules-load.d/procpulse.conf
#   /usr/lib/sysusers.d/procpulse.conf                sysusers.d/procpulse.conf (the user)
#   /etc/default/procpulse-agent                      default/procpulse-agent (settings)
#   /etc/procpulse/agent-web-config.toml (0600)       agent-web-config.toml (empty: no TLS,
#                                                     no auth), kept if present
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=${1:?usage: stage-agent.sh ROOT AGENT_BIN}
bin=${2:?usage: stage-agent.sh ROOT AGENT_BIN}
[ -x "$bin" ] || { echo "stage-agent.sh: $bin is not an executable" >&2; exit 1; }

install -d -m 0755 "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/lib/sysusers.d" \
  "$root/usr/share/procpulse" "$root/etc/default"
install -d -m 0750 "$root/etc/procpulse"
install -m 0755 "$bin" "$root/usr/bin/procpulse-agent"
install -m 0644 "$HERE/procpulse-agent.service" "$HERE/procpulse-modules.service" \
  "$root/usr/lib/systemd/system/"
install -m 0644 "$HERE/modules-load.d/procpulse.conf" "$root/usr/share/procpulse/modules-load.conf"
install -m 0644 "$HERE/sysusers.d/procpulse.conf" "$root/usr/lib/sysusers.d/procpulse.conf"
# Configuration: the administrator's copies win (install.sh run again).
if [ ! -e "$root/etc/default/procpulse-agent" ]; then
  install -m 0644 "$HERE/default/procpulse-agent" "$root/etc/default/procpulse-agent"
fi
if [ ! -e "$root/etc/procpulse/agent-web-config.toml" ]; then
  install -m 0600 "$HERE/agent-web-config.toml" "$root/etc/procpulse/agent-web-config.toml"
fi
