#!/usr/bin/env bash
# Builds a Debian kernel with CONFIG_RUST=y as .deb packages, plus the procpulse modules
# built against exactly that kernel, for a Debian 12 VM to run the kmod sensors.
#
#   k8s/vm/kernel-deb.sh [--config-only]
#
# Output (PROCPULSE_VM_KERNEL_OUT, default out/vm-kernel/):
#   linux-image-<version>_*.deb, linux-headers-<version>_*.deb  (make bindeb-pkg)
#   modules/procpulse_{cpu,ram,procs}.ko                          (for install-modules.sh)
#   build/.config                                                 (the resolved config)
# Then on the VM: k8s/README.md, "Monitored VM".
#
# Source and toolchain are the ones of the kernel test harness (ci/kernel.sh): Debian's
# linux-source-6.12, rustc-web's /usr/bin/rustc and the bindgen-cli version pinned in
# ci/kernel.sh, installed by `ci/deps.sh kernel`, sharing its cache
# (PROCPULSE_CACHE_DIR, default /var/cache/procpulse): the extracted source tree and
# bindgen are reused if the harness already made them. Its Rust lines of
# ci/kernel/base.config (MODULES, MODULE_UNLOAD, KALLSYMS, RUST) are applied here too.
# The rest of its config is a QEMU tinyconfig that cannot boot a real VM's disks,
# network and systemd, so the base here is Debian's own config for the flavour
# (linux-config-6.12; cloud-amd64 by default, for cloud VMs) plus
# k8s/vm/kernel-rust.config, which removes what CONFIG_RUST forbids (MODVERSIONS,
# DEBUG_INFO_BTF, RANDSTRUCT).
#
# --config-only stops after the configuration and its check (about a minute): that is
# what ci/test-k8s.sh runs. A full build of the cloud flavour takes hours on 2 cores
# (no debug info keeps the build dir to a few GB).
#
# Secure Boot: the kernel is not signed for the distribution's shim; boot the VM with
# Secure Boot off (GCE: --no-shielded-secure-boot). Modules are signed with a key made
# during the build; the procpulse modules are not, which only taints the kernel.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
FLAVOUR=${PROCPULSE_VM_KERNEL_FLAVOUR:-cloud-amd64}
OUT=${PROCPULSE_VM_KERNEL_OUT:-$ROOT/out/vm-kernel}
JOBS=${PROCPULSE_KERNEL_JOBS:-$(nproc)}
RUSTC=/usr/bin/rustc
config_only=0
for a in "$@"; do
  case "$a" in
    --config-only) config_only=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "kernel-deb.sh: unknown argument '$a'" >&2; exit 2 ;;
  esac
done
log() { echo "kernel-deb.sh: $*" >&2; }

# The harness's toolchain: same packages (the kernel group also has linux-config-6.12
# and dpkg-dev for this script), same bindgen pin, same cache layout.
"$ROOT/ci/deps.sh" kernel >&2
# The pin in ci/kernel.sh wins; 0.70.1 is the version known to work with 6.12.
BINDGEN_VERSION=$(sed -n 's/^BINDGEN_VERSION=//p' "$ROOT/ci/kernel.sh" 2>/dev/null || true)
BINDGEN_VERSION=${BINDGEN_VERSION:-0.70.1}
BINDGEN=$CACHE/tools/bindgen-$BINDGEN_VERSION/bin/bindgen
if [ ! -x "$BINDGEN" ]; then
  log "installing bindgen-cli $BINDGEN_VERSION"
  cargo install --quiet --locked --root "$CACHE/tools/bindgen-$BINDGEN_VERSION" \
    bindgen-cli --version "=$BINDGEN_VERSION" >&2
fi
SRC_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.12)
SRC=$CACHE/src/linux-source-$SRC_VERSION
if [ ! -f "$SRC/.procpulse-extracted" ]; then
  log "extracting /usr/src/linux-source-6.12.tar.xz into $SRC"
  rm -rf "$SRC" && mkdir -p "$SRC"
  tar -xf /usr/src/linux-source-6.12.tar.xz -C "$SRC" --strip-components=1
  touch "$SRC/.procpulse-extracted"
fi

BUILD=$OUT/build
mkdir -p "$BUILD"
kmake() { make -C "$SRC" O="$BUILD" RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" "$@"; }

# Debian's config for the flavour + the harness's Rust lines + what CONFIG_RUST forbids.
FRAG=$OUT/fragment.config
{
  grep -sE '^CONFIG_(MODULES|MODULE_UNLOAD|KALLSYMS|RUST)=' "$ROOT/ci/kernel/base.config" || true
  cat "$ROOT/k8s/vm/kernel-rust.config"
} >"$FRAG"
xzcat "/usr/src/linux-config-6.12/config.amd64_none_$FLAVOUR.xz" >"$BUILD/.config"
log "configuring: Debian $FLAVOUR config + $FRAG"
"$SRC/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" "$FRAG" >"$OUT/config.log" 2>&1
kmake olddefconfig >>"$OUT/config.log" 2>&1
# Kconfig drops options whose dependencies fail without a word: insist on every line.
bad=0
while IFS= read -r line; do
  case "$line" in
    CONFIG_*=*) grep -qxF "$line" "$BUILD/.config" || { log "'$line' did not survive"; bad=1; } ;;
    "# CONFIG_"*" is not set")
      opt=${line#\# }
      opt=${opt%% *}
      if grep -q "^$opt=" "$BUILD/.config"; then log "$opt is still set"; bad=1; fi ;;
  esac
done <"$FRAG"
if [ "$bad" = 1 ]; then
  kmake rustavailable >&2 || true
  exit 1
fi
release=$(kmake -s kernelrelease 2>/dev/null | tail -1)
log "config ok: CONFIG_RUST=y, kernel release $release ($BUILD/.config)"
[ "$config_only" = 0 ] || exit 0

log "building linux-image/linux-headers .debs with -j$JOBS (hours on 2 cores)"
# DPKG_FLAGS=-d: the generated debian/control asks for debhelper-compat and a
# cross-named gcc package; the tools the build really runs come from `ci/deps.sh kernel`.
kmake -j"$JOBS" KDEB_PKGVERSION="$SRC_VERSION+procpulse1" DPKG_FLAGS=-d bindeb-pkg \
  >"$OUT/build.log" 2>&1 || {
  tail -n 40 "$OUT/build.log" >&2
  log "bindeb-pkg failed (log: $OUT/build.log)"
  exit 1
}
# The modules must be built by the rustc that built this kernel: build them here.
log "building the procpulse modules against $release"
# In a copy, so that the work tree's kmod/ gets no build output.
rm -rf "$OUT/kmod-src" && cp -r "$ROOT/kmod" "$OUT/kmod-src" && mkdir -p "$OUT/modules"
make -C "$OUT/kmod-src" KDIR="$BUILD" RUSTC="$RUSTC" BINDGEN="$BINDGEN" modules >>"$OUT/build.log" 2>&1
cp "$OUT"/kmod-src/procpulse_*.ko "$OUT/modules/"
ls -l "$OUT"/*.deb "$OUT"/modules/*.ko
log "done: copy $OUT/*.deb and $OUT/modules/ to the VM (k8s/README.md)"
