#!/usr/bin/env bash
# Installs the procpulse kernel modules without DKMS: copies the .ko files built for the
# running kernel into /lib/modules/$(uname -r)/extra/procpulse/, runs depmod and loads
# them now. At boot procpulse-modules.service (shipped with the agent: its package or
# install.sh) loads them before the agent, on the kernels that have that directory only.
#
#   sudo k8s/vm/install-modules.sh DIR        DIR holds procpulse_{cpu,ram,procs}.ko
#
# The modules must come from the same build as the running kernel (k8s/vm/kernel-deb.sh
# builds both): a kernel without CONFIG_RUST=y, or another build, refuses them.
# In a chroot (an image being prepared) the running kernel is the host's, so the target is
# KERNEL_RELEASE or else the release the modules are built for, which must be installed
# in the chroot (/lib/modules/<release>, from the linux-image package); it installs and
# runs depmod but loads nothing: procpulse-modules.service loads them at the next boot.
# PROCPULSE_DESTDIR=/some/root stages the files under that root for KERNEL_RELEASE
# (default: uname -r) and loads nothing (used by ci/test-k8s.sh).
set -euo pipefail

DIR=${1:?usage: install-modules.sh DIR-WITH-.ko-FILES}
DESTDIR=${PROCPULSE_DESTDIR:-}
MODULES=(procpulse_cpu procpulse_ram procpulse_procs)
log() { echo "install-modules.sh: $*" >&2; }
# A chroot: / is not the root of PID 1 (or /proc is not even mounted).
in_chroot() { [ "$(stat -Lc %d:%i / 2>/dev/null)" != "$(stat -Lc %d:%i /proc/1/root/ 2>/dev/null)" ]; }
offline=0
if [ -z "$DESTDIR" ] && in_chroot; then offline=1; fi
if [ -n "${KERNEL_RELEASE:-}" ]; then
  KREL=$KERNEL_RELEASE
elif [ "$offline" = 1 ]; then
  [ -f "$DIR/procpulse_cpu.ko" ] || { log "missing $DIR/procpulse_cpu.ko"; exit 1; }
  KREL=$(modinfo -F vermagic "$DIR/procpulse_cpu.ko")
  KREL=${KREL%% *}
  [ -d "/lib/modules/$KREL" ] || {
    log "in a chroot: kernel $KREL (the modules' release) is not installed here; install its linux-image package first"
    exit 1
  }
else
  KREL=$(uname -r)
fi

if [ -z "$DESTDIR" ] && [ "$(id -u)" -ne 0 ]; then log "run as root"; exit 1; fi
for m in "${MODULES[@]}"; do
  [ -f "$DIR/$m.ko" ] || { log "missing $DIR/$m.ko"; exit 1; }
  vermagic=$(modinfo -F vermagic "$DIR/$m.ko")
  if [ "${vermagic%% *}" != "$KREL" ]; then
    log "$m.ko is built for ${vermagic%% *}, not for kernel $KREL"
    exit 1
  fi
done
if [ -z "$DESTDIR" ] && [ -r "/boot/config-$KREL" ] && ! grep -qx 'CONFIG_RUST=y' "/boot/config-$KREL"; then
  log "kernel $KREL has no CONFIG_RUST=y: install the kernel from k8s/vm/kernel-deb.sh first"
  exit 1
fi

dest="$DESTDIR/lib/modules/$KREL/extra/procpulse"
install -d -m 0755 "$dest"
for m in "${MODULES[@]}"; do install -m 0644 "$DIR/$m.ko" "$dest/"; done
if [ -n "$DESTDIR" ]; then
  depmod -b "$DESTDIR" "$KREL"
  log "staged under $DESTDIR for $KREL"
  exit 0
fi
depmod -a "$KREL"
if [ "$offline" = 1 ]; then
  log "in a chroot: installed for $KREL; procpulse-modules.service loads them at the next boot"
  exit 0
fi
for m in "${MODULES[@]}"; do modprobe "$m"; done
for f in cpu ram procs; do
  [ -r "/proc/procpulse_$f" ] || { log "/proc/procpulse_$f missing after modprobe"; exit 1; }
done
log "loaded ${MODULES[*]}; /proc/procpulse_{cpu,ram,procs} present; loaded at boot by procpulse-modules.service"
