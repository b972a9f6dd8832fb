#!/usr/bin/env bash
# The kernel harness (docs/design.md §8): builds the procpulse modules against each cached
# Rust-enabled kernel (ci/kernel.sh), boots it in QEMU with an initramfs holding busybox,
# the modules, procpulse-kmod-check, procpulse-stress and procpulse-agent, runs the
# checks inside the guest, and fails on any missing marker or any kernel splat.
#
# Usage: ci/kmod-test.sh   (variants from PROCPULSE_KMOD_VARIANTS, default "default debug voluntary";
#                          processes for tasks-scale from PROCPULSE_KMOD_SCALE, insmod/rmmod
#                          cycles of the hammer from PROCPULSE_KMOD_HAMMER_CYCLES)
# Logs:  out/kmod/test-<variant>.log (PROCPULSE_OUT_DIR overrides out/)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=guest/common.sh
. "$ROOT/ci/guest/common.sh"

read -r -a VARIANTS <<<"${PROCPULSE_KMOD_VARIANTS:-default debug voluntary}"
# The hotplug check needs at least 4 CPUs; tasks-scale needs memory for its processes.
export PP_SMP=${PP_SMP:-4} PP_MEM=${PP_MEM:-6G}
# Every guest run is bounded; the debug kernel (lockdep, TCG) is the slow one.
GUEST_TIMEOUT=${PROCPULSE_KMOD_TIMEOUT:-2400}
REQUIRED=(insmod fields cpu-idle ram procs stress cpu-readers cpu-busy cpu-partial hotplug swap
          tasks tasks-pidns tasks-scale hammer unload)

start=$(date +%s)
pp_splat_selftest
"$ROOT/ci/deps.sh" base kernel
pp_userland
[ ${#PP_BINS[@]} -ge 3 ] && REQUIRED+=(agent)

# Processes for tasks-scale, forked by a busybox sh: each costs ~135 KiB of kernel memory
# and page tables (5,000 took 670 MB) and 3-10 ms under TCG (20,000 in 66 s on default).
# CI keeps to what the 6 GiB guest holds and its time budget allows; 100,000 need a
# ~15 GiB guest and are run by `ci/bench/kmod.sh 100000` (BENCHMARKS.md, kmod).
default_scale() { case "$1" in default) echo 10000 ;; *) echo 3000 ;; esac; }
# The hammer (readers racing insmod/rmmod) is the longest check: about 4.7 s a cycle on
# default, 12 on debug, 9 on voluntary under TCG (BENCHMARKS.md "CI and first-run costs").
# Each cycle is the same race, and lockdep and the voluntary preemption points are
# exercised from the first, so CI runs 16 cycles on default and 6-8 on the slow kernels,
# and tasks-scale 10,000 processes on default, 3,000 on the others: a fully cold CI run
# (three kernels built, every guest) must stay well inside its 90 minutes. Longer runs:
# PROCPULSE_KMOD_HAMMER_CYCLES, PROCPULSE_KMOD_SCALE, and `ci/bench/kmod.sh 100000`.
default_hammer() { case "$1" in default) echo 16 ;; debug) echo 6 ;; *) echo 8 ;; esac; }

declare -A RESULT
failed=0
for v in "${VARIANTS[@]}"; do
  t0=$(date +%s)
  problems=()
  pp_kernel "$v"
  mods=$(pp_modules "$v") || { RESULT[$v]="FAIL (module build)"; failed=1; continue; }
  initrd=$PP_OUT/initramfs-$v.cpio.gz
  pp_initramfs "$mods" "$initrd"
  log=$PP_OUT/test-$v.log
  rc=0
  pp_qemu "$GUEST_TIMEOUT" "$log" "$initrd" "pp.mode=test pp.variant=$v pp.scale=${PROCPULSE_KMOD_SCALE:-$(default_scale "$v")} pp.hammer=${PROCPULSE_KMOD_HAMMER_CYCLES:-$(default_hammer "$v")} pp.now=$(date +%s)" || rc=$?
  [ "$rc" = 0 ] || problems+=("qemu exited $rc$([ "$rc" = 124 ] && echo ' (timeout)')")
  grep -q '^PPDONE' "$log" || problems+=("guest did not finish (no PPDONE)")
  for c in "${REQUIRED[@]}"; do
    grep -q "^PPCHECK ok $c\b" "$log" || problems+=("missing 'PPCHECK ok $c'")
  done
  while IFS= read -r l; do problems+=("$l"); done < <(grep -a '^PPCHECK FAIL' "$log" || true)
  while IFS= read -r l; do problems+=("splat: $l"); done < <(
    grep -av '^PPCHECK' "$log" | grep -aE "$PP_SPLAT" | sort -u | head -n 20 || true)
  secs=$(( $(date +%s) - t0 ))
  echo
  echo "== kmod-test $v (${secs}s, log $log)"
  grep -a '^PPCHECK' "$log" | sed 's/^/   /' || true
  if [ ${#problems[@]} -eq 0 ]; then
    RESULT[$v]="PASS (${secs}s)"
  else
    RESULT[$v]="FAIL (${secs}s)"
    failed=1
    printf '   problem: %s\n' "${problems[@]}"
  fi
done

echo
echo "== kmod-test summary ($(( $(date +%s) - start ))s total, accel $(pp_accel))"
for v in "${VARIANTS[@]}"; do echo "   $v: ${RESULT[$v]:-not run}"; done
exit "$failed"
