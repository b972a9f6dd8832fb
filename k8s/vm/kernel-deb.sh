#!/usr/bin/env bash
# Builds a Linux 6.12 kernel with CONFIG_RUST=y as .deb packages, plus the procpulse
# modules built against exactly that kernel, for a Debian 12 / Ubuntu VM to run the kmod
# sensors. Built once per set of inputs and cached.
#
#   k8s/vm/kernel-deb.sh [--base lean|debian:FLAVOUR] [--config-only]
#
#   --base lean            (default) the lean VM kernel, which is also the reference kernel
#                          the modules are tested on in QEMU: ci/kernel.sh's `default`
#                          variant (`make tinyconfig` + ci/kernel/base.config +
#                          ci/kernel/default.config + k8s/vm/kernel-vm.config: disks, NICs,
#                          EFI, cgroup v2, namespaces, seccomp... for a cloud VM booting with
#                          systemd and no initramfs; all built in), built and cached by
#                          ci/kernel.sh with `make bindeb-pkg`. About 8-15 min on 2 cores;
#                          booted by ci/test-vm.sh.
#   --base debian:FLAVOUR  Debian's own config for the flavour (linux-config-6.12, e.g.
#                          debian:cloud-amd64) + the Rust lines of ci/kernel/base.config +
#                          k8s/vm/kernel-rust.config. Thousands of modules: hours on 2
#                          cores. Only its configuration is tested (ci/test-k8s.sh); the
#                          full build was never run to the end nor booted here.
#   --config-only          stop after the configuration and its check (seconds to a
#                          minute), in PROCPULSE_VM_KERNEL_OUT/config-check/; builds nothing.
#
# Cache: lean is ci/kernel.sh's cache entry of the default variant,
# ${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}/kernels/default-<key>/; debian:FLAVOUR is
# built here into .../vm-kernel/debian-FLAVOUR-<key>/. Each holds the .debs and a stripped
# build dir; <key> hashes the linux-source-6.12, rustc-web and bindgen-cli versions and the
# effective config lines (and, for debian:*, the linux-config-6.12 version), so the kernel
# is rebuilt only when one of them changes. The modules live under it in modules-<key2>/,
# <key2> adding the kmod/ sources, so a module edit costs seconds, not a kernel build.
# Heavy steps run under `nice -n 19`.
#
# Output (PROCPULSE_VM_KERNEL_OUT, default out/vm-kernel/), copied (hard-linked when
# possible) from the cache:
#   linux-image-<release>_*.deb, linux-headers-<release>_*.deb  (make bindeb-pkg)
#   modules/procpulse_{cpu,ram,procs}.ko                        (for install.sh --modules)
#   config                                                      (the resolved .config)
# The last line on stdout is the cache directory. Then on the VM: k8s/README.md,
# "Monitored VM".
#
# Source and toolchain are the ones of the kernel test harness (ci/kernel.sh): Debian's
# linux-source-6.12, rustc-web's /usr/bin/rustc and the bindgen-cli version pinned in
# ci/kernel.sh, installed by `ci/deps.sh kernel`, sharing its cache (extracted source tree
# and bindgen). Every fragment line must survive olddefconfig (Kconfig drops options
# whose dependencies fail without a word), or the script stops.
#
# Secure Boot: the kernel is not signed for the distribution's shim; boot the VM with
# Secure Boot off (GCE: --no-shielded-secure-boot).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
BASE=${PROCPULSE_VM_KERNEL_BASE:-lean}
OUT=${PROCPULSE_VM_KERNEL_OUT:-$ROOT/out/vm-kernel}
JOBS=${PROCPULSE_KERNEL_JOBS:-$(nproc)}
# Bump when the build steps below change in a way that changes the packages.
RECIPE=2
config_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config-only) config_only=1; shift ;;
    --base) BASE=${2:?--base needs lean or debian:FLAVOUR}; shift 2 ;;
    --base=*) BASE=${1#--base=}; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-deb.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
# shellcheck source=../../ci/lib.sh
. "$ROOT/ci/lib.sh" # built from the repository (ci/deps.sh, ci/kernel/), so its ci/ is at hand
log() { ci_log "$@"; }
case "$BASE" in
  lean) LABEL=lean ;;
  debian:?*) FLAVOUR=${BASE#debian:}; LABEL=debian-$FLAVOUR ;;
  *) log "unknown --base '$BASE' (lean or debian:FLAVOUR, e.g. debian:cloud-amd64)"; exit 2 ;;
esac

# The harness's toolchain: same packages (the kernel group also has linux-config-6.12
# and dpkg-dev for this script), same bindgen pin, same cache layout.
"$ROOT/ci/deps.sh" kernel >&2
# The modules' sources, as pp_modules (ci/guest/common.sh) copies them.
MKEY=$(cd "$ROOT/kmod" && cat Kbuild Makefile ./*.rs | sha256sum | cut -c1-16)

if [ "$LABEL" = lean ]; then
  [ "$config_only" = 0 ] || exec "$ROOT/ci/kernel.sh" --config-only "$OUT/config-check" default
  DIR=$("$ROOT/ci/kernel.sh" default | tail -n 1)
  # shellcheck disable=SC1091 # written by ci/kernel.sh: KDIR, RUSTC, BINDGEN
  . "$DIR/env"
  BUILD=$KDIR
else
  pkgver() { dpkg-query -W -f='${Version}' "$1"; }
  # The harness's source tree, rustc and bindgen: SRC, RUSTC, BINDGEN and their *_VERSION.
  toolchain=$("$ROOT/ci/kernel.sh" --toolchain) || exit 1
  eval "$toolchain"
  kmake() { make -C "$SRC" O="$1" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" "${@:2}"; }

  # The fragment applied on top of Debian's config, reduced to its effective lines: one per
  # option, the last one wins.
  fragment() {
    {
      grep -sE '^CONFIG_(MODULES|MODULE_UNLOAD|KALLSYMS|RUST)=' "$ROOT/ci/kernel/base.config" || true
      cat "$ROOT/k8s/vm/kernel-rust.config"
    } | sed 's/[[:space:]]*$//' | awk '
      /^CONFIG_[A-Za-z0-9_]+=/ { o = $0; sub(/=.*/, "", o) }
      /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { o = $2 }
      o != "" { if (!(o in line)) order[n++] = o; line[o] = $0; o = "" }
      END { for (i = 0; i < n; i++) print line[order[i]] }'
  }
  FRAGMENT=$(fragment)
  DEBIAN_CONFIG=/usr/src/linux-config-6.12/config.amd64_none_$FLAVOUR.xz
  [ -f "$DEBIAN_CONFIG" ] || { log "no Debian config for flavour '$FLAVOUR' ($DEBIAN_CONFIG)"; exit 2; }
  KEY=$({
    echo "recipe $RECIPE"
    echo "base $BASE"
    echo "linux-source-6.12 $SRC_VERSION"
    echo "rustc-web $RUSTC_VERSION"
    echo "bindgen-cli $BINDGEN_VERSION"
    echo "linux-config-6.12 $(pkgver linux-config-6.12)"
    echo "$FRAGMENT"
  } | sha256sum | cut -c1-16)

  # configure DIR: starting config + fragment, olddefconfig, then insist on every line.
  configure() {
    local b=$1
    mkdir -p "$b"
    printf '%s\n' "$FRAGMENT" >"$b/fragment.config"
    log "configuring $BASE: Debian's $FLAVOUR config + the Rust lines + k8s/vm/kernel-rust.config"
    xzcat "$DEBIAN_CONFIG" >"$b/.config"
    : >"$b/config.log"
    {
      "$SRC/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" "$b/fragment.config"
      kmake "$b" olddefconfig
      # olddefconfig does not refresh include/config/auto.conf, which `kernelrelease` reads.
      kmake "$b" syncconfig
    } >>"$b/config.log" 2>&1
    if ! kconfig_survived "$b"; then
      kmake "$b" rustavailable >&2 || true
      return 1
    fi
    log "config ok: every fragment line survived, CONFIG_RUST=y, release $(kmake "$b" -s kernelrelease 2>/dev/null | tail -1)"
  }

  if [ "$config_only" = 1 ]; then
    configure "$OUT/config-check/$LABEL"
    exit 0
  fi

  DIR=$CACHE/vm-kernel/$LABEL-$KEY
  BUILD=$DIR/build
  mkdir -p "$DIR"
  # One build per cache entry at a time (two CI runs must not share a half-built tree).
  exec 9>"$DIR/.lock"
  flock 9
  if [ -f "$DIR/.procpulse-done" ]; then
    log "kernel cached at $DIR"
  else
    start=$(date +%s)
    # An interrupted build resumes: the same key means the same configuration.
    if [ ! -f "$BUILD/.procpulse-configured" ]; then
      configure "$BUILD"
      touch "$BUILD/.procpulse-configured"
    fi
    release=$(kmake "$BUILD" -s kernelrelease | tail -1)
    rm -f "$DIR"/*.deb "$DIR"/*.buildinfo "$DIR"/*.changes
    log "building linux-image/linux-headers $release .debs with -j$JOBS under nice -n 19" \
      "(hours on 2 cores; log $DIR/build.log)"
    # DPKG_FLAGS=-d: the generated debian/control asks for debhelper-compat and a
    # cross-named gcc package; the tools the build really runs come from `ci/deps.sh kernel`.
    if ! nice -n 19 make -C "$SRC" O="$BUILD" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" \
      -j"$JOBS" KDEB_PKGVERSION="$SRC_VERSION+procpulse1" DPKG_FLAGS=-d bindeb-pkg \
      >"$DIR/build.log" 2>&1; then
      tail -n 40 "$DIR/build.log" >&2
      log "bindeb-pkg failed (log: $DIR/build.log)"
      exit 1
    fi
    ls "$DIR"/linux-image-"$release"_*.deb >/dev/null
      echo "$release" >"$DIR/release"
    # Keep only what `make M=` needs to build the modules later: headers, scripts,
    # Module.symvers, rust/*.rmeta and libmacros.so (as ci/kernel.sh does).
    find "$BUILD" \( -name '*.o' -o -name '*.a' -o -name '.*.cmd' -o -name '*.ko' -o -name '*.mod.c' \) -delete
    rm -rf "$BUILD/debian" "$BUILD/vmlinux" "$BUILD/arch/x86/boot/compressed/vmlinux" \
      "$BUILD/arch/x86/boot/vmlinux.bin" "$BUILD"/arch/x86/boot/compressed/vmlinux.bin*
    echo "$(($(date +%s) - start))" >"$DIR/build-seconds"
    touch "$DIR/.procpulse-done"
    log "kernel built in $(cat "$DIR/build-seconds") s -> $DIR ($(du -sh "$DIR" | cut -f1))"
  fi
fi
release=$(cat "$DIR/release")
# One module build per cache entry at a time.
exec 8>"$DIR/.modules.lock"
flock 8

# The modules must be built by the rustc that built this kernel: build them here, in a
# copy of kmod/ so that the work tree gets no build output.
MDIR=$DIR/modules-$MKEY
if [ -f "$MDIR/.procpulse-done" ]; then
  log "modules cached at $MDIR"
else
  log "building the procpulse modules against $release"
  rm -rf "$MDIR" "$DIR/kmod-src" && mkdir -p "$DIR/kmod-src" "$MDIR"
  cp "$ROOT"/kmod/*.rs "$ROOT"/kmod/Kbuild "$ROOT"/kmod/Makefile "$DIR/kmod-src/"
  if ! nice -n 19 make -C "$DIR/kmod-src" KDIR="$BUILD" RUSTC="$RUSTC" BINDGEN="$BINDGEN" modules \
    >"$DIR/kmod-src/build.log" 2>&1; then
    cat "$DIR/kmod-src/build.log" >&2
    log "module build against $BUILD failed"
    exit 1
  fi
  cp "$DIR"/kmod-src/procpulse_*.ko "$MDIR/"
  for m in "$MDIR"/*.ko; do
    vermagic=$(modinfo -F vermagic "$m")
    [ "${vermagic%% *}" = "$release" ] || { log "$m is built for ${vermagic%% *}, not $release"; exit 1; }
  done
  touch "$MDIR/.procpulse-done"
fi

# The output directory: the packages, the modules and the config of this build only.
mkdir -p "$OUT"
rm -rf "$OUT/modules" "$OUT"/linux-*.deb "$OUT/config"
put() { ln -f "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }
for f in "$DIR"/linux-*.deb; do put "$f" "$OUT/${f##*/}"; done
mkdir -p "$OUT/modules"
for f in "$MDIR"/*.ko; do put "$f" "$OUT/modules/${f##*/}"; done
put "$BUILD/.config" "$OUT/config"
ls -l "$OUT"/*.deb "$OUT"/modules/*.ko >&2
log "done ($release): copy $OUT/*.deb and $OUT/modules/ to the VM (k8s/README.md)"
echo "$DIR"
