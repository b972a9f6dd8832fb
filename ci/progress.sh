# shellcheck shell=bash
# Progress for long steps that write to a log instead of the terminal (a kernel build is
# minutes of silence otherwise). Source it, then:
#
#   with_progress LABEL LOG CMD...
#
# runs CMD in the foreground (so Ctrl-C reaches it) with stdout and stderr appended to LOG
# while a ticker prints "LABEL: 2m30s so far, last: <last line of LOG>" to stderr every
# PROGRESS_EVERY seconds (default 30). The ticker ends with CMD, or within a second of this
# shell's end. Returns CMD's exit status.
with_progress() {
  local label=$1 log=$2 every=${PROGRESS_EVERY:-30} rc=0 ticker
  shift 2
  (
    start=$SECONDS next=$((SECONDS + every))
    while kill -0 "$$" 2>/dev/null; do
      sleep 1
      [ "$SECONDS" -ge "$next" ] || continue
      last=$(tail -n 1 "$log" 2>/dev/null | tr -s '[:space:]' ' ' | cut -c1-100)
      printf '%s: %dm%02ds so far, last: %s\n' "$label" $(((SECONDS - start) / 60)) \
        $(((SECONDS - start) % 60)) "${last:-(no output yet)}" >&2
      next=$((next + every))
    done
  ) &
  ticker=$!
  "$@" >>"$log" 2>&1 || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$rc"
}
