#!/usr/bin/env bash
# Helpers shared by procpulse's scripts (source it: `. "$ROOT/ci/lib.sh"`):
#   ci_log MSG...         "<script>: MSG" on stderr (CI_LOG_NAME overrides the name)
#   free_port             a free TCP port on 127.0.0.1 (released at once; bind it next)
#   wait_http URL SECS    polls URL until it answers 2xx, at most SECS seconds; 1 if never
#   cpu_seconds PID       user + system CPU seconds of PID so far (0 once it is gone),
#                         from /proc/PID/stat with the real clock-tick rate (getconf CLK_TCK)
# Each function is defined once here; scripts adopt them as they are touched (issue 17).

CI_LOG_NAME=${CI_LOG_NAME:-$(basename "$0")}
CI_CLK_TCK=${CI_CLK_TCK:-$(getconf CLK_TCK)}

ci_log() { echo "$CI_LOG_NAME: $*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # url seconds
  local _
  for _ in $(seq 1 $(( $2 * 10 ))); do
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  ci_log "$1 never answered"
  return 1
}

cpu_seconds() { # pid
  awk -v hz="$CI_CLK_TCK" '{ sub(/.*\) /, ""); print ($12 + $13) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
