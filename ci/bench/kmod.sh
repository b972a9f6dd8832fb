#!/usr/bin/env bash
# Benchmark (docs/design.md §8, kmod): in a QEMU guest on the default kernel, with N sleeping
# processes held (a busybox sh forks them), inside the guest:
#   - the process-state counts: read /proc/procpulse_procs vs a userland /proc/[pid]/stat
#     walk (the agent's fallback logic) vs busybox `ps` (bar: module >= 20x cheaper);
#   - the top-processes table: read + parse /proc/procpulse_tasks and pick the top 10 by
#     CPU time vs the agent's /proc walk building the same table; time per read and the
#     reader's memory growth for each.
#
# Usage: ci/bench/kmod.sh [processes...]        (default: 10000 100000; under TCG the
# 100,000 run forks for ~19 min and needs a 15 GiB guest: pass 10000 for a quick run)
# Each count boots its own guest with memory for it (~140 KiB of kernel memory and page
# tables per forked process, + 1 GiB); PP_MEM overrides.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../guest/common.sh
. "$ROOT/ci/guest/common.sh"
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(10000 100000)

"$ROOT/ci/deps.sh" base kernel
pp_userland
pp_kernel default
mods=$(pp_modules default)
initrd=$PP_OUT/initramfs-bench.cpio.gz
pp_initramfs "$mods" "$initrd"
for n in "${COUNTS[@]}"; do
  mem=${PP_MEM:-$(( (n * 140 / 1024 + 1024 + 1023) / 1024 ))G}
  log=$PP_OUT/bench-$n.log
  # Forking is ~10 ms per process under TCG; the walks and reads take minutes at 100k.
  PP_MEM=$mem pp_qemu "${PROCPULSE_BENCH_TIMEOUT:-$(( 900 + n / 50 ))}" "$log" "$initrd" \
    "pp.mode=bench pp.variant=default pp.tasks=$n pp.now=$(date +%s)" || true
  if ! grep -q '^PPCHECK ok bench' "$log"; then
    grep -a '^PPCHECK' "$log" >&2 || true
    echo "kmod bench with $n processes failed (log: $log)" >&2
    exit 1
  fi
  echo "## $n processes"
  grep -a '^PPCHECK ok bench' "$log" | sed 's/^PPCHECK ok bench /# /'
  echo "# accel $(pp_accel), $(grep -c ^processor /proc/cpuinfo) host cores, guest -smp ${PP_SMP:-2} -m $mem, $n processes held"
  grep -a '^RESULT ' "$log"
done
