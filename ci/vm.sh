#!/usr/bin/env bash
# Runs procpulse for real: boots the default Rust-enabled kernel in QEMU with the modules
# loaded and procpulse-agent listening on 0.0.0.0:<port> in the guest, forwarded to
# 127.0.0.1:<port> on this host (QEMU user networking). Prints when the agent answers.
#
# Usage: ci/vm.sh [--port N] [--daemon] [--pid-file FILE] [--log FILE]
#   foreground (default): runs until Ctrl-C; --daemon: returns once the agent answers and
#   leaves QEMU running with its pid in --pid-file (default out/kmod/vm.pid).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=guest/common.sh
. "$ROOT/ci/guest/common.sh"

PORT=${PROCPULSE_VM_PORT:-5200}
DAEMON=0
PIDFILE=$PP_OUT/vm.pid
LOG=$PP_OUT/vm.log
while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT=$2; shift 2 ;;
    --daemon) DAEMON=1; shift ;;
    --pid-file) PIDFILE=$2; shift 2 ;;
    --log) LOG=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "vm.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

"$ROOT/ci/deps.sh" base kernel
pp_userland
[ ${#PP_BINS[@]} -ge 3 ] || { echo "vm.sh: procpulse-agent has no binary yet" >&2; exit 1; }
pp_kernel default
mods=$(pp_modules default)
initrd=$PP_OUT/initramfs-vm.cpio.gz
pp_initramfs "$mods" "$initrd"

accel=$(pp_accel); cpu=max; [ "$accel" = kvm ] && cpu=host
qemu=(qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "${PP_SMP:-2}" -m "${PP_MEM:-1G}"
  -nographic -no-reboot -nodefaults -serial "file:$LOG" -kernel "$KIMAGE" -initrd "$initrd"
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:$PORT" -device "virtio-net-pci,netdev=n0"
  -append "console=ttyS0 panic=-1 pp.mode=vm pp.port=$PORT pp.variant=default pp.now=$(date +%s)")

: >"$LOG"
"${qemu[@]}" </dev/null >/dev/null 2>&1 &
qpid=$!
echo "$qpid" >"$PIDFILE"
pp_log "QEMU pid $qpid ($accel), console log $LOG"
stop() { kill "$qpid" 2>/dev/null || true; wait "$qpid" 2>/dev/null || true; rm -f "$PIDFILE"; }
[ "$DAEMON" = 1 ] || trap 'stop; exit 0' INT TERM

up=0
for _ in $(seq 1 240); do
  kill -0 "$qpid" 2>/dev/null || { tail -n 30 "$LOG" >&2; echo "vm.sh: QEMU exited" >&2; rm -f "$PIDFILE"; exit 1; }
  if curl -fsS -m 2 "http://127.0.0.1:$PORT/api/v1/snapshot" >/dev/null 2>&1; then up=1; break; fi
  sleep 1
done
if [ "$up" = 0 ]; then
  tail -n 30 "$LOG" >&2; stop; echo "vm.sh: agent not reachable on 127.0.0.1:$PORT after 240 s" >&2; exit 1
fi
echo "vm.sh: agent reachable at http://127.0.0.1:$PORT/api/v1/snapshot (source: $(curl -fsS "http://127.0.0.1:$PORT/api/v1/snapshot" | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p'))"
if [ "$DAEMON" = 1 ]; then
  echo "vm.sh: running in the background, pid $qpid (pid file $PIDFILE); stop with: kill \$(cat $PIDFILE)"
  exit 0
fi
wait "$qpid" || true
rm -f "$PIDFILE"
