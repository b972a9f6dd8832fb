#!/usr/bin/env bash
# Benchmark (SPEC §8, kmod): in a QEMU guest on the default kernel, with N processes held
# by `procpulse-stress --sleeping N`, the time to obtain the process-state counts by
# reading /proc/procpulse_procs vs a userland /proc/[pid]/stat walk (the agent's fallback
# logic) vs busybox `ps`. Bar: the module read is >= 20x cheaper than the walk.
#
# Usage: ci/bench/kmod.sh [tasks]        (default 10000)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../guest/common.sh
. "$ROOT/ci/guest/common.sh"
TASKS=${1:-10000}
# 10,000 processes of a static binary need more than the test guest's 1 GiB.
PP_MEM=${PP_MEM:-4G}

"$ROOT/ci/deps.sh" base kernel
pp_userland
pp_kernel default
mods=$(pp_modules default)
initrd=$PP_OUT/initramfs-bench.cpio.gz
pp_initramfs "$mods" "$initrd"
log=$PP_OUT/bench.log
pp_qemu "${PROCPULSE_BENCH_TIMEOUT:-1500}" "$log" "$initrd" \
  "pp.mode=bench pp.variant=default pp.tasks=$TASKS pp.now=$(date +%s)" || true

if ! grep -q '^PPCHECK ok bench' "$log"; then
  grep -a '^PPCHECK' "$log" >&2 || true
  echo "kmod bench failed (log: $log)" >&2
  exit 1
fi
grep -a '^PPCHECK ok bench' "$log" | sed 's/^PPCHECK ok bench /# /'
echo "# accel $(pp_accel), $(grep -c ^processor /proc/cpuinfo) host cores, guest -smp ${PP_SMP:-2} -m $PP_MEM, $TASKS processes held"
grep -a '^RESULT ' "$log"
