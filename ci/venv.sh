#!/usr/bin/env bash
# Prints the path of a Python venv holding pinned tools, creating it first when it is
# missing or its requirements file changed since it was made.
#
#   VENV=$(ci/venv.sh NAME REQUIREMENTS)    -> .cache/venv-NAME
#
# Progress goes to stderr; only the path goes to stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 2 ] || { echo "usage: ci/venv.sh NAME REQUIREMENTS" >&2; exit 2; }
name=$1 req=$2
[ -f "$req" ] || { echo "ci/venv.sh: no requirements file $req" >&2; exit 2; }
"$ROOT/ci/deps.sh" base >&2
venv="$ROOT/.cache/venv-$name"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "ci/venv.sh: creating $venv from $req" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  echo "$want" >"$stamp"
fi
echo "$venv"
