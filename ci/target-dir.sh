#!/usr/bin/env bash
# Prints cargo's target directory for this workspace (CARGO_TARGET_DIR, a config's
# build.target-dir, or <repo>/target), as cargo itself resolves it: scripts take binary
# paths from here instead of assuming <repo>/target.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps --offline | jq -r .target_directory
