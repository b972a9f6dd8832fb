#!/usr/bin/env bash
# procpulse: every test, as the README's test command and .ci/run call it.
#
#   ci/test.sh              all stages
#   ci/test.sh lint rust    only the named stages (see STAGES below)
#
# Each stage installs what it needs (its script calls ci/deps.sh with its groups). This
# script starts the private MariaDB the ingest and broadcaster stages talk to (nginx,
# Chromium and QEMU are started by the stages that use them), and ends
# with one line "N passed, N failed" counting stages. Logs of each stage go to
# $CI_LOG_DIR (default /tmp/procpulse-logs).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
export CI_LOG_DIR=${CI_LOG_DIR:-/tmp/procpulse-logs}
mkdir -p "$CI_LOG_DIR"
export CARGO_TERM_COLOR=never
# A run starts from a clean checkout, so incremental caches only cost disk (gigabytes).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

# The reference kernels build in the background from the start (below), default first:
# fresh, vm and stack come before kmod, which needs all three kernels, and only vm, stack
# and kmod's first guest need default, so the slow debug and voluntary builds get the most
# time beside the other stages.
STAGES=(lint rust agent ingest broadcaster loadgen web k8s fresh vm stack kmod)
if [ $# -gt 0 ]; then STAGES=("$@"); fi

# shellcheck source=lib.sh
. ci/lib.sh
log() { ci_stamp test.sh "$@"; }
free_disk() { df -h --output=avail . | tail -1 | tr -d ' '; }

# Each stage installs what it uses (its script calls ci/deps.sh with its groups).
log "installing the base dependencies (ci/deps.sh base)"
ci/deps.sh base || { echo "ci/deps.sh base failed" >&2; exit 1; }
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }

# A private MariaDB for every stage that talks to MySQL.
MARIADB_STARTED=0
start_mariadb() {
  [ "$MARIADB_STARTED" = 1 ] && return 0
  [ -x ci/mariadb.sh ] || return 0
  if url=$(ci/mariadb.sh start); then
    export PROCPULSE_TEST_MYSQL_URL="$url"
    MARIADB_STARTED=1
  else
    echo "could not start MariaDB (ci/mariadb.sh start)" >&2
    return 1
  fi
}
# The reference kernels (ci/kernel.sh: default, which is also the VM's, debug, voluntary)
# are minutes of CPU each on a cold cache. Stages kmod, vm and stack need them, so they are
# built in the background from the start, at nice 19 and idle I/O priority: they take the
# CPU the earlier stages leave idle and slow them by little. A stage that needs a variant
# still under way waits for it (ci/kernel.sh locks each variant); a background build that
# failed is retried by that stage, which then fails with the build's log.
KERNELS_PID=""
start_kernels() {
  local s
  for s in "${STAGES[@]}"; do
    case $s in
      kmod|vm|stack)
        ci/deps.sh kernel || return 1 # here, so that no apt runs beside the stages' own
        log "building the reference kernels in the background (log: $CI_LOG_DIR/kernels.log)"
        # setsid: a session of its own, so that cleanup can end the whole build. With
        # CONFIG_SCHED_AUTOGROUP a session is also a scheduling group whose weight ignores
        # its members' nice, so the group itself is set to nice 19 from inside it; otherwise
        # the builds take half the CPU from the stages (a cold run so: lint 383 s, not 117-156).
        setsid sh -c 'echo 19 >/proc/self/autogroup 2>/dev/null; exec ionice -c3 nice -n 19 ci/kernel.sh' \
          >"$CI_LOG_DIR/kernels.log" 2>&1 </dev/null &
        KERNELS_PID=$!
        return 0 ;;
    esac
  done
}
cleanup() {
  [ "$MARIADB_STARTED" = 1 ] && ci/mariadb.sh stop >/dev/null 2>&1
  [ -z "$KERNELS_PID" ] || kill -- -"$KERNELS_PID" 2>/dev/null
  true
}
trap cleanup EXIT
start_kernels || { echo "ci/deps.sh kernel failed" >&2; exit 1; }

stage_lint() {
  ci/deps.sh sqlite && # libsqlite3-sys's build script looks for the library
    cargo fmt --all -- --check &&
    cargo clippy --workspace --all-targets --locked -- -D warnings &&
    ci/shellcheck.sh &&
    python3 ci/lint/module_cycles.py --self-test && python3 ci/lint/module_cycles.py .
}
# Crates whose tests no part script below runs (the part scripts cover model, stress and
# agent; storage and ingest; broadcaster; loadgen), so no test runs twice.
stage_rust() {
  cargo test --locked --no-fail-fast -p procpulse-service -p procpulse-kmod-check
}
run_script() { # run ci/<script> if it exists; a missing one is a failure, not a skip
  local s=$1
  if [ ! -x "ci/$s" ]; then echo "ci/$s is missing" >&2; return 1; fi
  "ci/$s"
}
stage_agent() { run_script test-agent.sh && run_script test-prometheus.sh; }
stage_ingest() { run_script test-ingest.sh; }
stage_broadcaster() { run_script test-broadcaster.sh; }
stage_loadgen() { run_script test-loadgen.sh; }
stage_web() { run_script test-web.sh; }
stage_k8s() { run_script test-k8s.sh; }
stage_kmod() { run_script kmod-test.sh; }
stage_vm() { run_script test-vm.sh; }
stage_stack() { run_script test-stack.sh; }
stage_fresh() { run_script test-fresh.sh; }

# Stages run in pipelines (subshells), so shared services start here, in this shell.
for s in "${STAGES[@]}"; do
  case $s in ingest|broadcaster) start_mariadb || exit 1; break ;; esac
done

passed=0; failed=0; failed_names=()
for s in "${STAGES[@]}"; do
  if ! declare -F "stage_$s" >/dev/null; then echo "unknown stage $s" >&2; exit 2; fi
  log "stage $s: start ($(free_disk) free on $(df --output=target . | tail -1))"
  t0=$(date +%s)
  if "stage_$s" 2>&1 | tee "$CI_LOG_DIR/stage-$s.log"; then
    log "stage $s: PASS ($(( $(date +%s) - t0 )) s)"; passed=$((passed + 1))
  else
    log "stage $s: FAIL ($(( $(date +%s) - t0 )) s), log: $CI_LOG_DIR/stage-$s.log"
    failed=$((failed + 1)); failed_names+=("$s")
  fi
done

[ $failed -eq 0 ] || log "failed stages: ${failed_names[*]}"
echo "stages: $passed passed, $failed failed"
[ $failed -eq 0 ]
