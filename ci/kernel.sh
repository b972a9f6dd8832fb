#!/usr/bin/env bash
# Builds (or reuses from the cache) the Rust-enabled reference kernels procpulse's modules
# are tested on: Debian's linux-source-6.12 + tinyconfig + ci/kernel/<variant>.config.
#
# Usage: ci/kernel.sh [--print-dir] [variant...]    variants: default debug voluntary (default: all)
#   --print-dir   only print the cache directory of each variant (building it if needed)
#
# Each variant lands in ${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}/kernels/<variant>-<key>/
#   bzImage   the kernel QEMU boots
#   build/    the stripped O= build dir (enough for `make -C build M=kmod`)
#   env       KDIR / RUSTC / BINDGEN / SRC to source before building modules
# <key> hashes every input: linux-source version, rustc-web version, bindgen version and
# the config fragments, so a toolchain upgrade or a config edit rebuilds and nothing else does.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
BINDGEN_VERSION=0.70.1
JOBS=${PROCPULSE_KERNEL_JOBS:-$(nproc)}
RUSTC=/usr/bin/rustc

print_only=0
variants=()
for a in "$@"; do
  case "$a" in
    --print-dir) print_only=1 ;;
    default|debug|voluntary) variants+=("$a") ;;
    *) echo "kernel.sh: unknown argument '$a' (variants: default debug voluntary)" >&2; exit 2 ;;
  esac
done
[ ${#variants[@]} -gt 0 ] || variants=(default debug voluntary)

# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh"
log() { ci_log "$@"; }
# shellcheck source=ci/progress.sh
. "$ROOT/ci/progress.sh"

"$ROOT/ci/deps.sh" kernel >&2

pkgver() { dpkg-query -W -f='${Version}' "$1"; }
SRC_VERSION=$(pkgver linux-source-6.12)
RUSTC_VERSION=$(pkgver rustc-web)
TARBALL=/usr/src/linux-source-6.12.tar.xz
[ -f "$TARBALL" ] || { log "missing $TARBALL (linux-source-6.12)"; exit 1; }

# bindgen-cli: Debian's 0.60 is too old for 6.12; install the pinned one into the cache.
BINDGEN_ROOT=$CACHE/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$BINDGEN_ROOT/bin/bindgen
if [ ! -x "$BINDGEN" ]; then
  log "installing bindgen-cli $BINDGEN_VERSION into $BINDGEN_ROOT"
  mkdir -p "$BINDGEN_ROOT"
  cargo install --quiet --locked --root "$BINDGEN_ROOT" bindgen-cli --version "=$BINDGEN_VERSION" >&2
fi

# The source tree is shared by the variants (each builds with its own O= dir) and kept,
# because out-of-tree module builds need its headers and Makefiles.
SRC=$CACHE/src/linux-source-$SRC_VERSION
if [ ! -f "$SRC/.procpulse-extracted" ]; then
  log "extracting $TARBALL into $SRC"
  rm -rf "$SRC" && mkdir -p "$SRC"
  tar -xf "$TARBALL" -C "$SRC" --strip-components=1
  touch "$SRC/.procpulse-extracted"
fi

# Every make call gets the toolchain explicitly: otherwise rustup's rustc on PATH wins and
# CONFIG_RUST silently disappears from .config.
kmake() {
  make -C "$SRC" O="$1" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" "${@:2}"
}

variant_key() {
  {
    echo "linux-source-6.12 $SRC_VERSION"
    echo "rustc-web $RUSTC_VERSION"
    echo "bindgen-cli $BINDGEN_VERSION"
    # Only lines that change the build: comments (other than Kconfig's "# CONFIG_X is not
    # set") and blank lines do not, so editing the prose never forces a rebuild.
    cat "$ROOT/ci/kernel/base.config" "$ROOT/ci/kernel/$1.config" |
      grep -E '^[[:space:]]*(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set)' | sed 's/[[:space:]]*$//'
  } | sha256sum | cut -c1-16
}

build_variant() {
  local v=$1 key dir out frag line start
  key=$(variant_key "$v")
  dir=$CACHE/kernels/$v-$key
  if [ -f "$dir/.procpulse-done" ]; then
    log "$v: cached at $dir"
    echo "$dir"
    return
  fi
  [ "$print_only" = 0 ] || log "$v: not cached yet, building"
  start=$(date +%s)
  rm -rf "$dir" && mkdir -p "$dir"
  out=$dir/build
  frag=$dir/fragment.config
  cat "$ROOT/ci/kernel/base.config" "$ROOT/ci/kernel/$v.config" >"$frag"
  log "$v: configuring (tinyconfig + ci/kernel/base.config + ci/kernel/$v.config)"
  kmake "$out" tinyconfig >"$dir/build.log" 2>&1
  "$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$frag" >>"$dir/build.log" 2>&1
  kmake "$out" olddefconfig >>"$dir/build.log" 2>&1
  # Kconfig drops options whose dependencies fail without a word: insist on every one.
  while IFS= read -r line; do
    case "$line" in CONFIG_*=*) ;; *) continue ;; esac
    if ! grep -qxF "$line" "$out/.config"; then
      log "$v: '$line' did not survive olddefconfig (see 'make rustavailable' for CONFIG_RUST)"
      kmake "$out" rustavailable >&2 || true
      exit 1
    fi
  done <"$frag"
  log "$v: building with -j$JOBS (log: $dir/build.log)"
  if ! with_progress "kernel $v" "$dir/build.log" kmake "$out" -j"$JOBS" all; then
    tail -n 40 "$dir/build.log" >&2
    log "$v: kernel build failed"
    exit 1
  fi
  cp "$out/arch/x86/boot/bzImage" "$dir/bzImage"
  # Keep only what `make M=` needs: headers, scripts, Module.symvers, rust/*.rmeta + libmacros.so.
  find "$out" \( -name '*.o' -o -name '*.a' -o -name '.*.cmd' -o -name '*.ko' -o -name '*.mod.c' \) -delete
  rm -f "$out/vmlinux" "$out/arch/x86/boot/compressed/vmlinux" "$out/arch/x86/boot/vmlinux.bin" \
        "$out/arch/x86/boot/compressed/vmlinux.bin"*
  cat >"$dir/env" <<EOF
KDIR=$out
SRC=$SRC
RUSTC=$RUSTC
BINDGEN=$BINDGEN
VARIANT=$v
EOF
  echo "$(( $(date +%s) - start ))" >"$dir/build-seconds"
  touch "$dir/.procpulse-done"
  log "$v: built in $(cat "$dir/build-seconds") s -> $dir ($(du -sh "$dir" | cut -f1))"
  echo "$dir"
}

for v in "${variants[@]}"; do
  build_variant "$v"
done
