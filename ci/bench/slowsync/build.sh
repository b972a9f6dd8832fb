#!/usr/bin/env bash
# Builds the slowsync LD_PRELOAD shim (README.md here) and prints the absolute path of the
# .so on stdout. Rebuilds only when slowsync.c (or the compile command) changed: the
# sha256 of both is kept next to the library.
#
# Usage: ci/bench/slowsync/build.sh
#   e.g. LD_PRELOAD="$(ci/bench/slowsync/build.sh)" SLOWSYNC_US=1000 ci/mariadb.sh start
# Environment:
#   SLOWSYNC_OUT   the library to write (default <repo>/.cache/slowsync/libslowsync.so)
#   CC             compiler (default cc)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
SRC="$HERE/slowsync.c"
OUT="$(realpath -m "${SLOWSYNC_OUT:-$ROOT/.cache/slowsync/libslowsync.so}")"
CC="${CC:-cc}"
flags=(-O2 -fPIC -shared -Wall -Wextra)

key="$( { cat "$SRC"; echo "$CC ${flags[*]}"; } | sha256sum | cut -d' ' -f1)"
if [ ! -f "$OUT" ] || [ "$(cat "$OUT.sha256" 2>/dev/null)" != "$key" ]; then
  mkdir -p "$(dirname "$OUT")"
  # Compile to a temporary name, then rename: a process that has the old library mapped
  # (a running mariadbd) keeps its inode instead of seeing it rewritten under it.
  tmp="$OUT.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  "$CC" "${flags[@]}" -o "$tmp" "$SRC" -ldl >&2
  mv -f "$tmp" "$OUT"
  echo "$key" >"$OUT.sha256"
  echo "slowsync/build.sh: built $OUT" >&2
fi
echo "$OUT"
