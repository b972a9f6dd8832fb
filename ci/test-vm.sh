#!/usr/bin/env bash
# Boot test of the monitored VM, end to end, the way a user sets one up (k8s/README.md,
# "Monitored VM"):
#
#   1. a Debian 12 (bookworm) root file system: debootstrap with systemd-sysv, udev, dbus
#      and systemd-networkd DHCP on the NIC; cached as a tarball keyed by its recipe;
#   2. the lean VM kernel .debs (the default reference kernel of ci/kernel.sh) and the
#      modules from k8s/vm/kernel-deb.sh (cached);
#   3. the procpulse-agent .deb (k8s/vm/agent-deb.sh --lintian: a static agent, lintian
#      errors fail);
#   4. in a chroot of a fresh copy, as on a VM: `dpkg -i linux-image-*.deb`,
#      `apt install ./procpulse-agent_*.deb`, `vm/install-modules.sh ./vm-kernel/modules`;
#   5. an ext4 disk image of it (mkfs.ext4 -d), booted in QEMU with the installed
#      /boot/vmlinuz-*-procpulse, root=/dev/vda, no initramfs, user networking forwarding
#      a free loopback port to the guest's :5200;
#   6. checks: systemd reached the default target; procpulse-agent.service active as the
#      non-root user procpulse; the package installed (dpkg-query); the three modules
#      inserted at boot by procpulse-modules.service; GET /api/v1/snapshot through the
#      forward says "source":"kmod"; then, in the same boot (the host sends "go" on a
#      second serial port once it has the snapshot), `dpkg -r` stops and removes the agent
#      (unit, binary, process, port gone; conffiles kept; no failed unit) and `dpkg -P`
#      removes its configuration and systemd state (the procpulse user stays, by Debian
#      practice); the kernel release ends in -procpulse; no BUG/WARNING/Oops on the
#      console; a clean ACPI poweroff.
#
#   ci/test-vm.sh        exits non-zero, with the failed checks, on any failure
#
# Every wait is bounded. Work files live in one temp dir (removed at the end; kept, with
# the console log, on failure); QEMU is killed on exit. Cache: PROCPULSE_CACHE_DIR
# (default /var/cache/procpulse): kernels/default-*/ (ci/kernel.sh, through kernel-deb.sh)
# and vm-rootfs/. Heavy steps run under nice -n 19.
# Env: PROCPULSE_DEBIAN_MIRROR (default http://deb.debian.org/debian),
# PROCPULSE_VM_BOOT_TIMEOUT (s until the guest reports, default 600),
# PROCPULSE_QEMU_ACCEL (kvm|tcg; default: kvm only where it really works).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=guest/common.sh
. "$ROOT/ci/guest/common.sh"

CACHE=${PROCPULSE_CACHE_DIR:-/var/cache/procpulse}
MIRROR=${PROCPULSE_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
BOOT_TIMEOUT=${PROCPULSE_VM_BOOT_TIMEOUT:-600}
POWEROFF_TIMEOUT=120
# How long the guest waits for the host's "go" before removing the package anyway.
GO_TIMEOUT=300
# The image's packages on top of debootstrap's minbase: init + udev (systemd-sysv),
# logind's bus (dbus: the ACPI power button powers off), modules, network, what the
# install steps and an operator use.
PACKAGES=(systemd-sysv udev dbus kmod iproute2 netbase procps curl ca-certificates)
# Bump when the rootfs recipe below changes.
ROOTFS_RECIPE=1
GUEST_HOSTNAME=procpulse-vm

# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh" # ci_stamp, free_port (guest/common.sh sources it too)
log() { ci_stamp test-vm "$@" >&2; }
die() { log "FAIL: $*"; exit 1; }
t_start=$(date +%s)
declare -A T
since() { echo $(($(date +%s) - $1)); }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot and mkfs need it)"
"$ROOT/ci/deps.sh" base kernel >&2
for t in debootstrap chroot mkfs.ext4 qemu-system-x86_64 curl python3 flock; do
  command -v "$t" >/dev/null || die "$t not found"
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/procpulse-vm.XXXXXX")
R=$TMP/root
QPID=""
ok=0
cleanup() {
  local rc=$?
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    wait "$QPID" 2>/dev/null || true
  fi
  # Never delete through a mount point of the host (/proc in the chroot).
  if mountpoint -q "$R/proc" 2>/dev/null; then umount "$R/proc" || umount -l "$R/proc" || true; fi
  if grep -qF " $TMP/" /proc/mounts; then
    log "something is still mounted under $TMP: left in place"
  elif [ "$ok" = 1 ] && [ -z "${PROCPULSE_KEEP_TMP:-}" ]; then
    rm -rf --one-file-system "$TMP"
  else
    rm -rf --one-file-system "$R" "$TMP/disk.img" "$TMP/rootfs.tmp"
    log "work files (console log: $TMP/console.log) kept in $TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. the Debian 12 root file system (cached tarball) --------------------------------
configure_rootfs() { # the parts of a cloud image's setup a boot needs; part of the recipe
  local r=$1
  echo "$GUEST_HOSTNAME" >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    "$GUEST_HOSTNAME" >"$r/etc/hosts"
  printf '/dev/vda\t/\text4\tdefaults,errors=remount-ro\t0\t1\n' >"$r/etc/fstab"
  mkdir -p "$r/etc/systemd/network"
  printf '[Match]\nType=ether\n\n[Network]\nDHCP=yes\n' >"$r/etc/systemd/network/80-dhcp.network"
  chroot "$r" systemctl enable systemd-networkd.service >/dev/null 2>&1
  : >"$r/etc/machine-id" # generated at first boot, as in cloud images
  rm -f "$r"/var/cache/apt/archives/*.deb
}
ROOTFS_KEY=$(printf '%s\n' "recipe $ROOTFS_RECIPE" "$SUITE" minbase "${PACKAGES[@]}" \
  "$(declare -f configure_rootfs)" "$GUEST_HOSTNAME" | sha256sum | cut -c1-16)
TARBALL=$CACHE/vm-rootfs/$SUITE-$ROOTFS_KEY.tar
mkdir -p "$CACHE/vm-rootfs"
t0=$(date +%s)
(
  flock 9
  if [ -f "$TARBALL" ]; then exit 0; fi
  log "debootstrap $SUITE (minbase + ${PACKAGES[*]}) from $MIRROR"
  d=$TMP/rootfs.tmp
  if ! nice -n 19 debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$SUITE" "$d" "$MIRROR" >"$TMP/debootstrap.log" 2>&1; then
    tail -n 30 "$TMP/debootstrap.log" >&2
    [ ! -f "$d/debootstrap/debootstrap.log" ] || tail -n 30 "$d/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  configure_rootfs "$d"
  nice -n 19 tar -C "$d" --numeric-owner --xattrs --acls -cf "$TARBALL.tmp" .
  mv "$TARBALL.tmp" "$TARBALL"
  rm -rf --one-file-system "$d"
  log "rootfs cached: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
) 9>"$CACHE/vm-rootfs/.lock"
T[rootfs]=$(since "$t0")
log "rootfs: $TARBALL (${T[rootfs]} s)"

# --- 2. the kernel packages and the modules (cached by kernel-deb.sh) ------------------
t0=$(date +%s)
KOUT=$TMP/vm-kernel
kdir=$(PROCPULSE_VM_KERNEL_OUT=$KOUT "$ROOT/k8s/vm/kernel-deb.sh" | tail -n 1)
T[kernel]=$(since "$t0")
debs=("$KOUT"/linux-image-*-procpulse_*.deb)
[ -f "${debs[0]}" ] || die "no linux-image-*-procpulse .deb in $KOUT"
log "kernel: ${debs[0]##*/} from $kdir (${T[kernel]} s)"

# --- 3. the agent package (a static agent inside; lintian errors fail) ---------------
t0=$(date +%s)
log "building the procpulse-agent .deb"
DEB=$(PROCPULSE_DEB_OUT=$TMP/deb nice -n 19 "$ROOT/k8s/vm/agent-deb.sh" --lintian | tail -n 1)
[ -f "$DEB" ] || die "k8s/vm/agent-deb.sh made no .deb"
T[agent]=$(since "$t0")
log "package: ${DEB##*/} (${T[agent]} s)"

# --- 4. the image: kernel package, agent package, modules, in a chroot ----------------
t0=$(date +%s)
mkdir -p "$R"
tar -C "$R" --numeric-owner --xattrs --acls -xf "$TARBALL"
# What a user copies to the VM (k8s/README.md): the vm/ scripts, the packages.
inst=/root/procpulse-install
mkdir -p "$R$inst"
cp -r "$ROOT/k8s/vm" "$R$inst/vm"
cp -r "$KOUT" "$R$inst/vm-kernel"
cp "$DEB" "$R$inst/"
mount -t proc proc "$R/proc"
log "chroot: dpkg -i ${debs[0]##*/}"
chroot "$R" dpkg -i "$inst/vm-kernel/${debs[0]##*/}" >"$TMP/dpkg.log" 2>&1 || {
  cat "$TMP/dpkg.log" >&2
  die "dpkg -i of the kernel package failed in the chroot"
}
log "chroot: apt install ./${DEB##*/}"
# Nothing is downloaded (its one dependency, systemd, is in the image); no --no-download:
# with it apt 2.6 fails on a local .deb ("Pathname to install is not absolute").
chroot "$R" /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -q $inst/${DEB##*/}" \
  >"$TMP/apt.log" 2>&1 || {
  cat "$TMP/apt.log" >&2
  die "apt install of the agent package failed in the chroot"
}
log "chroot: vm/install-modules.sh ./vm-kernel/modules"
chroot "$R" /bin/sh -c "cd $inst && vm/install-modules.sh ./vm-kernel/modules" >&2 ||
  die "k8s/vm/install-modules.sh failed in the chroot"
# The test's own reporter: once systemd is done booting, facts on the serial console.
cat >"$R/usr/local/sbin/procpulse-vmcheck" <<'EOF'
#!/bin/sh
# ci/test-vm.sh reporter: the booted state, one "PPVM <what> ..." line each.
state=$(timeout 300 systemctl is-system-running --wait 2>/dev/null)
echo "PPVM system-state ${state:-unknown}"
def=$(systemctl get-default)
echo "PPVM default-target $def $(systemctl is-active "$def")"
systemctl --failed --no-legend --plain | sed 's/^/PPVM failed-unit /'
pid=$(systemctl show -p MainPID --value procpulse-agent.service)
echo "PPVM agent $(systemctl is-active procpulse-agent.service) unit-user=$(systemctl show -p User --value procpulse-agent.service) process-user=$(stat -c %U "/proc/$pid") uid=$(stat -c %u "/proc/$pid")"
# The sampler's blocking thread lowers itself to nice 10 (setpriority, allowed by the
# unit's SystemCallFilter): the highest nice among the agent's threads, and how many
# "Could not lower" warnings the agent logged (0 expected).
maxnice=$(for t in /proc/"$pid"/task/*/stat; do sed 's/.*) //' "$t" | awk '{print $17}'; done | sort -n | tail -n 1)
warned=$(journalctl -b -o cat -u procpulse-agent.service | grep -c 'Could not lower')
echo "PPVM agent-nice max=${maxnice:-none} setpriority-warnings=$warned"
# procpulse-modules.service runs systemd-modules-load: select its lines by identifier.
echo "PPVM modules-unit $(systemctl is-active procpulse-modules.service)"
journalctl -b -o cat -t systemd-modules-load | sed -n "s/^Inserted module '\(.*\)'$/PPVM modules-load inserted \1/p"
for m in procpulse_cpu procpulse_ram procpulse_procs; do
  if grep -q "^$m " /proc/modules && [ -r "/proc/$m" ]; then echo "PPVM module $m loaded"; fi
done
echo "PPVM kernel $(uname -r)"
# A kernel without the modules (Debian's own, say): the unit is skipped by its condition,
# nothing fails, nothing is logged as an error. Simulated by hiding this kernel's modules
# directory (the modules stay loaded) and restarting the unit; then restored.
kdir=/lib/modules/$(uname -r)/extra/procpulse
mv "$kdir" "$kdir.hidden" && systemctl restart procpulse-modules.service
absent="condition=$(systemctl show -p ConditionResult --value procpulse-modules.service) state=$(systemctl is-active procpulse-modules.service)"
mv "$kdir.hidden" "$kdir" && systemctl restart procpulse-modules.service
echo "PPVM modules-absent $absent restored=$(systemctl is-active procpulse-modules.service)"
journalctl -b -p err -o cat | head -n 10 | sed 's/^/PPVM journal-error /'
echo "PPVM package $(dpkg-query -W -f='${Status} ${Version}' procpulse-agent 2>&1)"
# Removal, once the host has its snapshot through the forward: it sends "go" lines on
# ttyS1 until this says it got one (bytes that arrive before the port is opened are
# dropped by the UART's reset, hence the repeats and the one open). Bounded.
go=$( { stty raw -echo
  timeout "${1:?GO_TIMEOUT}" sh -c 'while IFS= read -r l; do case $l in *go*) echo go; exit 0 ;; esac; done'
} </dev/ttyS1 2>/dev/null)
echo "PPVM go ${go:-none}"
# One line of facts: unit, process, listener, files, package status, systemd's leftovers.
facts() {
  f() { if [ -e "$1" ] || [ -L "$1" ]; then echo present; else echo gone; fi; }
  links=$(find /etc/systemd/system -name 'procpulse-agent*' 2>/dev/null | wc -l)
  listen=$(curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:5200/healthz)
  echo "PPVM $1 rc=$2 active=$(systemctl is-active procpulse-agent.service) process=$(pgrep -x procpulse-agent >/dev/null && echo running || echo none) port5200=$listen" \
    "binary=$(f /usr/bin/procpulse-agent) unit=$(f /usr/lib/systemd/system/procpulse-agent.service) etc-links=$links" \
    "default=$(f /etc/default/procpulse-agent) etc-procpulse=$(f /etc/procpulse)" \
    "status=$(dpkg-query -W -f='${db:Status-Abbrev}' procpulse-agent 2>/dev/null | tr -d ' ' || true)" \
    "user=$(getent passwd procpulse >/dev/null && echo kept || echo gone) failed=$(systemctl --failed --no-legend --plain | wc -l)"
}
rc=0; dpkg -r procpulse-agent >/var/log/procpulse-dpkg-r.log 2>&1 || rc=$?
facts removed "$rc"
rc=0; dpkg -P procpulse-agent >/var/log/procpulse-dpkg-p.log 2>&1 || rc=$?
facts purged "$rc"
cat /var/log/procpulse-dpkg-r.log /var/log/procpulse-dpkg-p.log | sed 's/^/PPVM dpkg-log /'
echo "PPVM done"
EOF
chmod 755 "$R/usr/local/sbin/procpulse-vmcheck"
cat >"$R/etc/systemd/system/procpulse-vmcheck.service" <<EOF
[Unit]
Description=procpulse boot test reporter (ci/test-vm.sh)
After=multi-user.target procpulse-agent.service

[Service]
Type=exec
ExecStart=/usr/local/sbin/procpulse-vmcheck $GO_TIMEOUT
StandardOutput=journal+console

[Install]
WantedBy=multi-user.target
EOF
chroot "$R" systemctl enable procpulse-vmcheck.service >/dev/null 2>&1
umount "$R/proc"
rm -rf "${R:?}$inst"
kernels=("$R"/boot/vmlinuz-*-procpulse)
[ -f "${kernels[0]}" ] || die "the package installed no /boot/vmlinuz-*-procpulse"
cp "${kernels[0]}" "$TMP/vmlinuz"
size=$(($(du -sm "$R" | cut -f1) + 768))
nice -n 19 mkfs.ext4 -q -F -L procpulse-root -d "$R" "$TMP/disk.img" "${size}M" >&2
rm -rf --one-file-system "$R"
T[image]=$(since "$t0")
log "image: ${size} MiB ext4 with ${kernels[0]##*/} (${T[image]} s)"

# --- 5. boot ------------------------------------------------------------------------------
PORT=$(free_port)
accel=$(pp_accel)
cpu=max
[ "$accel" = kvm ] && cpu=host
CONSOLE=$TMP/console.log
: >"$CONSOLE"
log "booting in QEMU ($accel): root=/dev/vda, 127.0.0.1:$PORT -> guest :5200, console $CONSOLE"
t0=$(date +%s)
nice -n 19 timeout -k 10 $((BOOT_TIMEOUT + POWEROFF_TIMEOUT + 60)) \
  qemu-system-x86_64 -accel "$accel" -cpu "$cpu" -smp 2 -m 1G -nographic -no-reboot -nodefaults \
  -serial "file:$CONSOLE" -serial "unix:$TMP/go.sock,server=on,wait=off" -kernel "$TMP/vmlinuz" \
  -append "root=/dev/vda rw console=ttyS0 panic=-1" \
  -drive "file=$TMP/disk.img,format=raw,if=virtio" \
  -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:5200" -device virtio-net-pci,netdev=n0 \
  -device virtio-rng-pci -qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
  </dev/null >"$TMP/qemu.log" 2>&1 &
QPID=$!

snapshot=""
booted=0
sent_go=0
send_go() { # the guest's ttyS1: its reporter removes the package once it reads "go"
  python3 - "$TMP/go.sock" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"go\n")
s.close()
EOF
}
for _ in $(seq "$BOOT_TIMEOUT"); do
  if ! kill -0 "$QPID" 2>/dev/null; then
    tail -n 40 "$CONSOLE" >&2
    cat "$TMP/qemu.log" >&2
    die "QEMU exited during boot"
  fi
  if [ -z "$snapshot" ]; then
    snapshot=$(curl -fsS -m 2 "http://127.0.0.1:$PORT/api/v1/snapshot" 2>/dev/null) || snapshot=""
    [ -z "$snapshot" ] || T[agent-up]=$(since "$t0")
  fi
  # Until the reporter says it got one (it may not be listening yet).
  if [ -n "$snapshot" ] && ! grep -aq 'PPVM go' "$CONSOLE"; then
    if send_go 2>/dev/null; then sent_go=$((sent_go + 1)); fi
  fi
  if grep -aq 'PPVM done' "$CONSOLE"; then booted=1; fi
  if [ -n "$snapshot" ] && [ "$booted" = 1 ]; then break; fi
  sleep 1
done
T[boot]=$(since "$t0")
if [ "$booted" = 0 ]; then
  tail -n 40 "$CONSOLE" >&2
  die "the guest did not report within $BOOT_TIMEOUT s (no 'PPVM done' on the console: systemd never finished booting?)"
fi
if [ -z "$snapshot" ]; then
  snapshot=$(curl -fsS -m 10 "http://127.0.0.1:$PORT/api/v1/snapshot" 2>/dev/null) || snapshot=""
fi

# --- 6. clean poweroff: the ACPI power button (what a cloud's "stop" sends) -----------
t0=$(date +%s)
python3 - "$TMP/qmp.sock" <<'EOF' || log "QMP system_powerdown failed"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
json.loads(f.readline())
for cmd in ("qmp_capabilities", "system_powerdown"):
    f.write(json.dumps({"execute": cmd}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            break
    if "error" in r:
        sys.exit(f"{cmd}: {r['error']}")
EOF
qrc=""
for _ in $(seq "$POWEROFF_TIMEOUT"); do
  if ! kill -0 "$QPID" 2>/dev/null; then
    qrc=0
    wait "$QPID" || qrc=$?
    QPID=""
    break
  fi
  sleep 1
done
T[poweroff]=$(since "$t0")

# --- checks --------------------------------------------------------------------------
problems=()
check() { # check NAME OK? DETAIL
  if [ "$2" = 0 ]; then
    echo "ok   $1: $3"
  else
    echo "FAIL $1: $3"
    problems+=("$1")
  fi
}
# The reporter's lines, without the console's "[ time] procpulse-vmcheck[pid]: " prefix.
ppvm() { grep -ao "PPVM $1.*" "$CONSOLE" | head -n "${2:-1}" | tr -d '\r' || true; }
echo
echo "== test-vm checks (console: $CONSOLE)"
krel=$(ppvm kernel | awk '{print $3}')
r=0; [[ $krel == *-procpulse ]] || r=1
check "kernel release" $r "${krel:-none} (${kernels[0]##*/} booted directly, no initramfs)"
st=$(ppvm system-state | awk '{print $3}')
dt=$(ppvm default-target)
failed_units=$(ppvm failed-unit 20 | awk '{print $3}' | paste -sd, -)
r=0; { [ "$st" = running ] && [[ $dt == *" active" ]]; } || r=1
check "systemd" $r "system ${st:-?}, ${dt#PPVM }${failed_units:+, failed units: $failed_units}"
agent=$(ppvm agent)
r=0
{ [[ $agent == "PPVM agent active unit-user=procpulse process-user=procpulse uid="* ]] &&
  [[ ${agent##*uid=} =~ ^[1-9][0-9]*$ ]]; } || r=1
check "procpulse-agent.service" $r "${agent#PPVM agent }"
nice=$(ppvm agent-nice)
r=0; [[ $nice == "PPVM agent-nice max=10 setpriority-warnings=0" ]] || r=1
check "sampler nice under the unit" $r "${nice#PPVM agent-nice }"
inserted=$(ppvm "modules-load inserted" 10 | awk '{print $4}' | sort | paste -sd' ' -)
loaded=$(ppvm "module " 10 | awk '{print $3}' | sort | paste -sd' ' -)
munit=$(ppvm modules-unit | awk '{print $3}')
r=0; { [ "$inserted" = "procpulse_cpu procpulse_procs procpulse_ram" ] && [ "$loaded" = "$inserted" ] && [ "$munit" = active ]; } || r=1
check "procpulse-modules.service" $r "${munit:-?}; inserted at boot by its systemd-modules-load: ${inserted:-none}; in /proc/modules with their /proc files: ${loaded:-none}"
absent=$(ppvm modules-absent)
jerr=$(ppvm journal-error 10 | cut -d' ' -f3- | paste -sd'|' -)
r=0; { [ "$absent" = "PPVM modules-absent condition=no state=inactive restored=active" ] && [ -z "$jerr" ]; } || r=1
check "without this kernel's modules" $r "${absent#PPVM modules-absent }; errors in the boot's journal: ${jerr:-none}"
version=${DEB##*/procpulse-agent_}
version=${version%%_*}
pkg=$(ppvm package)
r=0; [ "$pkg" = "PPVM package install ok installed $version" ] || r=1
check "package installed" $r "dpkg-query: ${pkg#PPVM package } (${DEB##*/}, installed in the chroot with apt)"
# The reporter's removal facts: "PPVM removed|purged key=value ...".
declare -A RM PG
while read -r kv; do RM[${kv%%=*}]=${kv#*=}; done < <(ppvm removed | tr ' ' '\n' | grep -F '=')
while read -r kv; do PG[${kv%%=*}]=${kv#*=}; done < <(ppvm purged | tr ' ' '\n' | grep -F '=')
go=$(ppvm go | awk '{print $3}')
# dpkg -r: stopped, files gone, nothing listening, no failed unit; conffiles and the
# enablement state (masked by deb-systemd-helper until a reinstall or purge) stay.
r=0
for kv in rc=0 active=inactive process=none port5200=000 binary=gone unit=gone default=present status=rc failed=0; do
  [ "${RM[${kv%%=*}]:-}" = "${kv#*=}" ] || r=1
done
[ "$go" = go ] || r=1
check "dpkg -r procpulse-agent" $r "after the host's go (sent ${sent_go}x, guest got: ${go:-none}): $(ppvm removed | cut -d' ' -f3-)"
# dpkg -P: configuration and systemd state gone; the system user stays (Debian practice).
r=0
for kv in rc=0 binary=gone unit=gone etc-links=0 default=gone etc-procpulse=gone status= user=kept failed=0; do
  [ "${PG[${kv%%=*}]-unset}" = "${kv#*=}" ] || r=1
done
check "dpkg -P procpulse-agent" $r "$(ppvm purged | cut -d' ' -f3-)"
source=$(sed -n 's/.*"source":"\([a-z]*\)".*/\1/p' <<<"$snapshot")
host=$(sed -n 's/.*"host":"\([^"]*\)".*/\1/p' <<<"$snapshot")
r=0; { [ "$source" = kmod ] && [ "$host" = "$GUEST_HOSTNAME" ]; } || r=1
check "GET /api/v1/snapshot" $r "through 127.0.0.1:$PORT: source ${source:-none}, host ${host:-none}, first answer ${T[agent-up]:-?} s after QEMU start"
splats=$(grep -av 'PPVM ' "$CONSOLE" | grep -aE "$PP_SPLAT" | sort -u | head -n 10 || true)
r=0; [ -z "$splats" ] || r=1
check "kernel log" $r "$([ -z "$splats" ] && echo 'no BUG/WARNING/Oops/splat on the console' || echo "$splats")"
r=0; { grep -aq 'reboot: Power down' "$CONSOLE" && [ "$qrc" = 0 ]; } || r=1
check "poweroff" $r "ACPI power button -> $(grep -ao 'reboot: Power down' "$CONSOLE" | head -n 1 || echo 'no "reboot: Power down"'), QEMU exit ${qrc:-none (still running)} after ${T[poweroff]} s"
T[total]=$(since "$t_start")
echo "== timings (s): rootfs ${T[rootfs]}, kernel ${T[kernel]}, agent .deb ${T[agent]}, image ${T[image]}," \
  "boot to agent ${T[agent-up]:-?}, boot to report ${T[boot]}, poweroff ${T[poweroff]}, total ${T[total]}"
if [ ${#problems[@]} -gt 0 ]; then
  echo "== console (last 40 lines)"
  tail -n 40 "$CONSOLE"
  die "${#problems[@]} check(s) failed: ${problems[*]}"
fi
ok=1
echo "test-vm: PASS"
