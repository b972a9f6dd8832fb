# shellcheck shell=bash
# Host-side helpers shared by ci/kmod-test.sh, ci/bench/kmod.sh and ci/vm.sh: build the
# modules against a cached kernel, build the static userland binaries, pack the
# initramfs, pick the QEMU accelerator and boot a guest with a hard time limit.
# Source it; it expects ROOT (the repository) to be set. It sources ci/lib.sh. Host side
# only: ci/guest/init.sh, the guest's /init under busybox sh, stays self-contained.

PP_OUT=${PROCPULSE_OUT_DIR:-$ROOT/out}/kmod
PP_TARGET=x86_64-unknown-linux-gnu
mkdir -p "$PP_OUT"

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh"

pp_log() { ci_stamp "" "$@" >&2; }

# pp_kernel <variant>: builds or reuses the kernel; sets KDIR, KIMAGE, RUSTC, BINDGEN.
pp_kernel() {
  local dir
  dir=$("$ROOT/ci/kernel.sh" "$1" | tail -n 1)
  # shellcheck disable=SC1091
  . "$dir/env"
  KIMAGE=$dir/bzImage
  export KDIR RUSTC BINDGEN KIMAGE
}

# pp_modules <variant> → prints the directory holding the three .ko files, built from a
# copy of kmod/ so that the work tree stays clean.
pp_modules() {
  local b=$PP_OUT/modules-$1
  mkdir -p "$b"
  cp "$ROOT"/kmod/*.rs "$ROOT"/kmod/Kbuild "$ROOT"/kmod/Makefile "$b"/
  if ! make -s -C "$b" KDIR="$KDIR" RUSTC="$RUSTC" BINDGEN="$BINDGEN" modules >"$b/build.log" 2>&1; then
    cat "$b/build.log" >&2
    pp_log "module build against $KDIR failed"
    return 1
  fi
  if grep -q "warning" "$b/build.log"; then cat "$b/build.log" >&2; pp_log "module build has warnings"; return 1; fi
  echo "$b"
}

# pp_userland: static release builds of the in-guest binaries; sets PP_BINS (paths).
# procpulse-agent is optional until its crate has a binary (its check is then skipped).
pp_userland() {
  local pkgs=(-p procpulse-kmod-check -p procpulse-stress) have_agent=0
  if [ -f "$ROOT/userland/agent/src/main.rs" ]; then pkgs+=(-p procpulse-agent); have_agent=1; fi
  pp_log "building static ${pkgs[*]}"
  (cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' \
     cargo build --quiet --release -j2 --target "$PP_TARGET" "${pkgs[@]}") >&2
  local rel
  rel=$("$ROOT/ci/target-dir.sh")/$PP_TARGET/release
  PP_BINS=("$rel/procpulse-kmod-check" "$rel/procpulse-stress")
  [ "$have_agent" = 0 ] || PP_BINS+=("$rel/procpulse-agent")
}

# pp_initramfs <modules dir> <out.cpio.gz>
pp_initramfs() {
  local stage=$PP_OUT/initramfs.d
  rm -rf "$stage" && mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,lib/procpulse,proc,sys,dev,tmp,root,etc}
  cp /bin/busybox "$stage/bin/busybox"
  cp "$ROOT/ci/guest/init.sh" "$stage/init" && chmod 755 "$stage/init"
  cp "$1"/*.ko "$stage/lib/procpulse/"
  cp "${PP_BINS[@]}" "$stage/bin/"
  printf '%s\n' "root:x:0:0:root:/root:/bin/sh" "pp:x:1000:1000:pp:/tmp:/bin/sh" >"$stage/etc/passwd"
  printf '%s\n' "root:x:0:" "pp:x:1000:" >"$stage/etc/group"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# pp_accel: KVM only when it really works (this project's hosts have kvm-pvm, on which
# a normal guest dies with "KVM internal error"); PROCPULSE_QEMU_ACCEL overrides.
pp_accel() {
  if [ -n "${PROCPULSE_QEMU_ACCEL:-}" ]; then echo "$PROCPULSE_QEMU_ACCEL"; return; fi
  if [ -w /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
    echo kvm
  else
    echo tcg
  fi
}

# pp_qemu <timeout s> <log> <initrd> <append> [qemu args...]: boots KIMAGE, console on
# stdout and in <log>; returns QEMU's status (124 on timeout).
pp_qemu() {
  local t=$1 log=$2 initrd=$3 append=$4 accel
  shift 4
  accel=$(pp_accel)
  local cpu=max; [ "$accel" = kvm ] && cpu=host
  pp_log "qemu ($accel, limit ${t}s): $append"
  set +e
  timeout -k 10 "$t" qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp "${PP_SMP:-2}" -m "${PP_MEM:-1G}" \
    -nographic -no-reboot -nodefaults -serial stdio -kernel "$KIMAGE" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 oops=panic $append" "$@" </dev/null 2>&1 | tee "$log" | sed -u 's/^/  | /' >&2
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# Lines in a console log that mean the kernel complained: every lockdep/RCU/might_sleep
# report starts with a "WARNING:" or "BUG:" header; the rest are oopses, stalls, panics.
PP_SPLAT='BUG:|WARNING:|Oops|Kernel panic|Call Trace:|general protection|INFO: (possible|task|rcu)|rcu: INFO|rcu_(sched|preempt) (self-)?detected stall|detected stalls|blocked for more than|suspicious RCU usage|possible (circular|recursive) locking|inconsistent lock state|UBSAN:|list_(add|del) corruption|refcount_t:|scheduling while atomic|sleeping function called from invalid context'

# pp_splat_selftest: the pattern catches real splat headers and not the boot banner of a
# lockdep kernel (a filter that matches nothing would hide every failure).
pp_splat_selftest() {
  local bad=("[ 12.3] WARNING: suspicious RCU usage" "[ 1.0] BUG: sleeping function called from invalid context at x.c:1"
             "[ 2.0] WARNING: possible circular locking dependency detected" "[ 3.0] Oops: 0000 [#1] SMP"
             "[ 4.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:" "[ 5.0] Call Trace:"
             "[ 6.0] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [cat:77]")
  local good=("[ 0.0] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar"
              "[ 0.0] rcu: 	RCU lockdep checking is enabled." "[ 2.8] procpulse_cpu: /proc/procpulse_cpu ready"
              "[ 0.1] rcu: Preemptible hierarchical RCU implementation.")
  local l
  for l in "${bad[@]}"; do grep -qE "$PP_SPLAT" <<<"$l" || { pp_log "splat pattern misses: $l"; return 1; }; done
  for l in "${good[@]}"; do ! grep -qE "$PP_SPLAT" <<<"$l" || { pp_log "splat pattern flags: $l"; return 1; }; done
}
