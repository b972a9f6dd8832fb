# shellcheck shell=bash
# Progress for long steps that write to a log instead of the terminal (a kernel build is
# minutes of silence otherwise). Source it, then:
#
#   with_progress LABEL LOG CMD...
#
# runs CMD with stdout and stderr appended to LOG and, every PROGRESS_EVERY seconds (default
# 30) while it runs, prints "LABEL: 2m30s so far, last: <last line of LOG>" to stderr.
# Returns CMD's exit status.
with_progress() {
  local label=$1 log=$2 every=${PROGRESS_EVERY:-30}
  shift 2
  local start=$SECONDS next=$((SECONDS + every)) pid last
  "$@" >>"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ] && kill -0 "$pid" 2>/dev/null; then
      last=$(tail -n 1 "$log" 2>/dev/null | tr -s '[:space:]' ' ' | cut -c1-100)
      printf '%s: %dm%02ds so far, last: %s\n' "$label" $(((SECONDS - start) / 60)) \
        $(((SECONDS - start) % 60)) "${last:-(no output yet)}" >&2
      next=$((next + every))
    fi
  done
  wait "$pid"
}
