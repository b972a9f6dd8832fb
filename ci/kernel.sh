#!/usr/bin/env bash
# Builds (or reuses from the cache) the Rust-enabled reference kernels procpulse's modules
# are tested on: Debian's linux-source-6.12 + tinyconfig + ci/kernel/base.config +
# ci/kernel/<variant>.config (+ k8s/vm/kernel-vm.config for default).
#
# Usage: ci/kernel.sh [--config-only DIR] [variant...]    variants: default debug voluntary (default: all)
#   --config-only DIR  configure each variant into DIR/<variant> and check that every
#                      fragment line survived; build nothing (seconds)
#   --toolchain        only set up the source tree and bindgen, and print the shell
#                      assignments SRC, RUSTC, BINDGEN and their *_VERSION (k8s/vm/kernel-deb.sh
#                      builds its Debian-config kernel with them)
#
# `default` is also the monitored VM's kernel: its fragment adds k8s/vm/kernel-vm.config
# (disks, NICs, EFI, cgroup v2... for a cloud VM booting with systemd, all built in) and it
# is built with `make bindeb-pkg`, so its directory also holds the linux-image/linux-headers
# .debs that k8s/vm/kernel-deb.sh hands out and ci/test-vm.sh installs. The modules are
# thus tested in QEMU on exactly the kernel the VM runs, and CI builds one kernel for both.
#
# Each variant lands in ${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}/kernels/<variant>-<key>/
#   bzImage   the kernel QEMU boots
#   build/    the stripped O= build dir (enough for `make -C build M=kmod`)
#   env       KDIR / RUSTC / BINDGEN / SRC to source before building modules
#   release   the kernel release (`uname -r` of the booted kernel)
#   *.deb     default only: linux-image-<release>, linux-headers-<release>
# <key> hashes every input: linux-source version, rustc-web version, bindgen version, the
# effective config lines and the recipe, so a toolchain upgrade or a config edit rebuilds
# and nothing else does. One build per variant at a time (a lock per variant): a caller
# that finds a build under way waits for it, so CI can start the builds early in the
# background (ci/test.sh) and the stages that need a kernel pick them up.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
BINDGEN_VERSION=0.70.1
JOBS=${PROCPULSE_KERNEL_JOBS:-$(nproc)}
RUSTC=/usr/bin/rustc

config_only=""
toolchain_only=0
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --config-only) config_only=${2:?--config-only needs a directory}; shift 2 ;;
    --toolchain) toolchain_only=1; shift ;;
    default|debug|voluntary) variants+=("$1"); shift ;;
    *) echo "kernel.sh: unknown argument '$1' (variants: default debug voluntary)" >&2; exit 2 ;;
  esac
done
[ ${#variants[@]} -gt 0 ] || variants=(default debug voluntary)
# Bump when the build steps below change what lands in the cache.
RECIPE=2

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
# The source tree is shared by the variants (each builds with its own O= dir) and kept,
# because out-of-tree module builds need its headers and Makefiles.
SRC=$CACHE/src/linux-source-$SRC_VERSION
# Both once per cache, under a lock (CI runs a kernel.sh in the background beside the
# stages').
mkdir -p "$CACHE"
(
  flock 9
  if [ ! -x "$BINDGEN" ]; then
    log "installing bindgen-cli $BINDGEN_VERSION into $BINDGEN_ROOT"
    mkdir -p "$BINDGEN_ROOT"
    cargo install --quiet --locked --root "$BINDGEN_ROOT" bindgen-cli --version "=$BINDGEN_VERSION" >&2
  fi
  if [ ! -f "$SRC/.procpulse-extracted" ]; then
    log "extracting $TARBALL into $SRC"
    rm -rf "$SRC" && mkdir -p "$SRC"
    tar -xf "$TARBALL" -C "$SRC" --strip-components=1
    touch "$SRC/.procpulse-extracted"
  fi
) 9>"$CACHE/.toolchain.lock"
if [ "$toolchain_only" = 1 ]; then
  printf '%s\n' "SRC=$SRC" "SRC_VERSION=$SRC_VERSION" "RUSTC=$RUSTC" "RUSTC_VERSION=$RUSTC_VERSION" \
    "BINDGEN=$BINDGEN" "BINDGEN_VERSION=$BINDGEN_VERSION"
  exit 0
fi

# Every make call gets the toolchain explicitly: otherwise rustup's rustc on PATH wins and
# CONFIG_RUST silently disappears from .config.
kmake() {
  make -C "$SRC" O="$1" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" "${@:2}"
}

# The fragment files of a variant, applied in this order on top of tinyconfig.
fragment_files() {
  echo "$ROOT/ci/kernel/base.config" "$ROOT/ci/kernel/$1.config"
  [ "$1" != default ] || echo "$ROOT/k8s/vm/kernel-vm.config"
}
# The effective fragment: one line per option, the last one wins (kernel-vm.config raises
# base.config's NR_CPUS), comments other than Kconfig's "# CONFIG_X is not set" and blank
# lines dropped, so editing the prose never forces a rebuild.
fragment() {
  # shellcheck disable=SC2046 # one path per word, no spaces in them
  cat $(fragment_files "$1") | sed 's/[[:space:]]*$//' | awk '
    /^[[:space:]]*CONFIG_[A-Za-z0-9_]+=/ { o = $0; sub(/^[[:space:]]*/, "", o); sub(/=.*/, "", o) }
    /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { o = $2 }
    o != "" { if (!(o in line)) order[n++] = o; line[o] = $0; sub(/^[[:space:]]*/, "", line[o]); o = "" }
    END { for (i = 0; i < n; i++) print line[order[i]] }'
}

variant_key() {
  {
    echo "linux-source-6.12 $SRC_VERSION"
    echo "rustc-web $RUSTC_VERSION"
    echo "bindgen-cli $BINDGEN_VERSION"
    # Only lines that change the build: comments (other than Kconfig's "# CONFIG_X is not
    # set") and blank lines do not, so editing the prose never forces a rebuild.
    # shellcheck disable=SC2046 # one path per word, no spaces in them
    cat $(fragment_files "$1") |
      grep -E '^[[:space:]]*(CONFIG_|# CONFIG_[A-Za-z0-9_]+ is not set)' | sed 's/[[:space:]]*$//'
    [ "$1" != default ] || echo "recipe $RECIPE (bindeb-pkg)"
  } | sha256sum | cut -c1-16
}

# configure VARIANT OUT: tinyconfig + the fragment, olddefconfig, then insist on every line
# (Kconfig drops options whose dependencies fail without a word).
configure() {
  local v=$1 out=$2
  mkdir -p "$out"
  fragment "$v" >"$out/fragment.config"
  log "$v: configuring (tinyconfig + $(fragment_files "$v" | xargs -n1 | sed "s|^$ROOT/||" | paste -sd' '))"
  {
    kmake "$out" tinyconfig
    "$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$out/fragment.config"
    kmake "$out" olddefconfig
    # olddefconfig does not refresh include/config/auto.conf, which `kernelrelease` reads.
    kmake "$out" syncconfig
  } >"$out/config.log" 2>&1
  if ! kconfig_survived "$out"; then
    kmake "$out" rustavailable >&2 || true
    return 1
  fi
  log "$v: config ok: every fragment line survived, release $(kmake "$out" -s kernelrelease 2>/dev/null | tail -1)"
}

build_variant() {
  local v=$1 key dir out start target
  key=$(variant_key "$v")
  dir=$CACHE/kernels/$v-$key
  mkdir -p "$CACHE/kernels"
  # One build per variant at a time: whoever comes second waits, then finds it done.
  exec 9>"$CACHE/kernels/.lock-$v"
  if ! flock -n 9; then
    log "$v: a build is under way (another ci/kernel.sh), waiting for it (progress: $dir/build.log)"
    flock 9
  fi
  if [ -f "$dir/.procpulse-done" ]; then
    log "$v: cached at $dir"
    exec 9>&-
    echo "$dir"
    return
  fi
  start=$(date +%s)
  rm -rf "$dir" && mkdir -p "$dir"
  out=$dir/build
  configure "$v" "$out" || exit 1
  # default is the VM's kernel too: packages as well as the bzImage (see the top).
  # DPKG_FLAGS=-d: the generated debian/control asks for debhelper-compat and a cross-named
  # gcc package; the tools the build really runs come from `ci/deps.sh kernel`.
  target=all
  [ "$v" != default ] || target="KDEB_PKGVERSION=$SRC_VERSION+procpulse1 DPKG_FLAGS=-d bindeb-pkg"
  log "$v: building ${target##* } with -j$JOBS under nice -n 19 (log: $dir/build.log)"
  # shellcheck disable=SC2086 # target is make's words
  if ! with_progress "kernel $v" "$dir/build.log" nice -n 19 \
    make -C "$SRC" O="$out" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" -j"$JOBS" $target; then
    tail -n 40 "$dir/build.log" >&2
    log "$v: kernel build failed"
    exit 1
  fi
  cp "$out/arch/x86/boot/bzImage" "$dir/bzImage"
  kmake "$out" -s kernelrelease | tail -n 1 >"$dir/release"
  if [ "$v" = default ]; then
    ls "$dir"/linux-image-"$(cat "$dir/release")"_*.deb >/dev/null || { log "$v: no linux-image .deb"; exit 1; }
    rm -f "$dir"/*.buildinfo "$dir"/*.changes
  fi
  # Keep only what `make M=` needs: headers, scripts, Module.symvers, rust/*.rmeta + libmacros.so.
  find "$out" \( -name '*.o' -o -name '*.a' -o -name '.*.cmd' -o -name '*.ko' -o -name '*.mod.c' \) -delete
  rm -rf "$out/debian" "$out/vmlinux" "$out/arch/x86/boot/compressed/vmlinux" \
    "$out/arch/x86/boot/vmlinux.bin" "$out/arch/x86/boot/compressed/vmlinux.bin"*
  printf '%s\n' "KDIR=$out" "SRC=$SRC" "RUSTC=$RUSTC" "BINDGEN=$BINDGEN" "VARIANT=$v" >"$dir/env"
  echo "$(( $(date +%s) - start ))" >"$dir/build-seconds"
  touch "$dir/.procpulse-done"
  exec 9>&-
  log "$v: built in $(cat "$dir/build-seconds") s -> $dir ($(du -sh "$dir" | cut -f1))"
  echo "$dir"
}

if [ -n "$config_only" ]; then
  for v in "${variants[@]}"; do configure "$v" "$config_only/$v" || exit 1; done
  exit 0
fi
for v in "${variants[@]}"; do
  build_variant "$v"
done
