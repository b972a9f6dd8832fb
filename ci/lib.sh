#!/usr/bin/env bash
# Helpers shared by procpulse's scripts (source it: `. "$ROOT/ci/lib.sh"`):
#   ci_log MSG...         "<script>: MSG" on stderr (CI_LOG_NAME overrides the name)
#   ci_stamp LABEL MSG... "[LABEL HH:MM:SS] MSG" on stdout ("[HH:MM:SS] MSG" when LABEL is
#                         empty): the timestamped log lines of the test scripts
#   free_port             a free TCP port on 127.0.0.1 (released at once; bind it next)
#   wait_http URL [SECS]  polls URL every 0.1 s until it answers with a status below 400
#                         (curl -f; each try at most 2 s), for at most SECS whole seconds of
#                         wall-clock time (default 10); 1, saying so, if it never does
#   cpu_seconds PID       user + system CPU seconds of PID so far (0 once it is gone),
#                         from /proc/PID/stat with the real clock-tick rate (getconf CLK_TCK)
#   step NAME CMD...      one check of a test script, which never aborts the run: prints
#                         "== NAME" ("== STEP_LABEL: NAME" when STEP_LABEL is set), runs CMD
#                         as an if condition (errexit is off inside it), then "ok   NAME" or
#                         "FAIL NAME"; counts STEP_PASSED / STEP_FAILED, lists failed names in
#                         STEP_FAILURES, sets STEP_RESULT[NAME]=pass|FAIL; returns 0
#   kconfig_survived DIR  every line of DIR/fragment.config is in DIR/.config ("CONFIG_X=v"
#                         kept, "# CONFIG_X is not set" not set): Kconfig drops options whose
#                         dependencies fail without a word; 1, naming each lost line, if not
#   step_summary LABEL    "LABEL: failed: NAME" per failed step, then "LABEL: N passed, N
#                         failed"; returns 1 when a step failed
# Each function is defined once here (issue 17): scripts source this file, never a copy.
# Not for ci/guest/init.sh (busybox sh in the guest) nor k8s/vm/install*.sh (copied to a
# VM on their own): those stay self-contained.

CI_LOG_NAME=${CI_LOG_NAME:-$(basename "$0")}
CI_CLK_TCK=${CI_CLK_TCK:-$(getconf CLK_TCK)}

ci_log() { echo "$CI_LOG_NAME: $*" >&2; }

ci_stamp() { # label msg...
  local label=${1:+$1 }
  shift
  printf '[%s%(%H:%M:%S)T] %s\n' "$label" -1 "$*"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # url [seconds]
  local end=$(( ${EPOCHREALTIME/[.,]/} + ${2:-10} * 1000000 )) # µs; EPOCHREALTIME has 6 decimals
  until curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; do
    if (( ${EPOCHREALTIME/[.,]/} >= end )); then
      ci_log "$1 never answered"
      return 1
    fi
    sleep 0.1
  done
}

cpu_seconds() { # pid
  awk -v hz="$CI_CLK_TCK" '{ sub(/.*\) /, ""); printf "%.6f\n", ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}

STEP_PASSED=0 STEP_FAILED=0 STEP_FAILURES=()
declare -gA STEP_RESULT=()
# shellcheck disable=SC2034 # STEP_RESULT is read by the sourcing script (ci/test-web.sh)
step() { # name cmd...
  local name=$1
  shift
  echo "== ${STEP_LABEL:+$STEP_LABEL: }$name"
  if "$@"; then
    STEP_PASSED=$((STEP_PASSED + 1)) STEP_RESULT[$name]=pass
    echo "ok   $name"
  else
    STEP_FAILED=$((STEP_FAILED + 1)) STEP_RESULT[$name]=FAIL
    STEP_FAILURES+=("$name")
    echo "FAIL $name"
  fi
}

kconfig_survived() { # dir
  local line opt bad=0
  while IFS= read -r line; do
    case "$line" in
      CONFIG_*=*) grep -qxF "$line" "$1/.config" || {
        ci_log "'$line' did not survive olddefconfig (now: $(grep -E "^(# )?${line%%=*}[= ]" "$1/.config" || echo unset))"
        bad=1
      } ;;
      "# CONFIG_"*" is not set")
        opt=${line#\# }
        opt=${opt%% *}
        if grep -q "^$opt=" "$1/.config"; then ci_log "$opt is still set"; bad=1; fi ;;
    esac
  done <"$1/fragment.config"
  [ "$bad" = 0 ]
}

step_summary() { # label
  local name
  for name in "${STEP_FAILURES[@]}"; do echo "$1: failed: $name"; done
  echo "$1: $STEP_PASSED passed, $STEP_FAILED failed"
  [ "$STEP_FAILED" -eq 0 ]
}
