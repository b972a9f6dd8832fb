#!/usr/bin/env bash
# Runs the pinned shellcheck (ci/lint/requirements.txt) over every shell script in the
# repository: *.sh files and files with a sh/bash shebang (tracked or not ignored). Sourced files
# are followed relative to the script that sources them. Any finding, of any severity,
# fails.
#
#   ci/shellcheck.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$(ci/venv.sh lint ci/lint/requirements.txt)"

scripts=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard)
else # an exported tree without .git
  mapfile -t files < <(find . -type f -not -path './target/*' -not -path './.cache/*' \
    -not -path '*/node_modules/*' -not -path './out/*' -printf '%P\n')
fi
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  case ${f##*/} in
    *.sh) scripts+=("$f") ;;
    *.*) ;;
    *) head -c 64 "$f" | head -n 1 | grep -Eq '^#!.*(/|env )(ba)?sh\b' && scripts+=("$f") ;;
  esac
done
[ ${#scripts[@]} -gt 0 ] || { echo "shellcheck.sh: found no scripts" >&2; exit 1; }
echo "shellcheck $("$VENV/bin/shellcheck" --version | sed -n 's/^version: //p') on ${#scripts[@]} scripts"
"$VENV/bin/shellcheck" --external-sources --source-path=SCRIPTDIR "${scripts[@]}"
echo "shellcheck: clean"
