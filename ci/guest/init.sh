#!/bin/busybox sh
# /init of procpulse's test initramfs (packed by ci/guest/common.sh). Kernel command
# line: pp.mode=test|bench|vm  pp.now=<epoch seconds>  pp.variant=<name>  pp.port=<port>
# pp.scale=<processes for tasks-scale>  pp.hammer=<insmod/rmmod cycles of the hammer>
# pp.tasks=<processes for the benchmark>
# Every result is a line on the serial console: PPCHECK ok|FAIL|skip <check> ..., then
# PPDONE; the host decides pass/fail from those lines and from dmesg splats.
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
mkdir -p /proc /sys /dev /tmp /root
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t tmpfs tmp /tmp

arg() { read -r cmdline </proc/cmdline; for w in $cmdline; do case "$w" in "pp.$1="*) echo "${w#*=}" ;; esac; done; }
MODE=$(arg mode); NOW=$(arg now); VARIANT=$(arg variant); PORT=$(arg port); SCALE=$(arg scale); HAMMER=$(arg hammer)
[ -n "$NOW" ] && date -s "@$NOW" >/dev/null
ip link set lo up
echo "PPBOOT variant=$VARIANT mode=$MODE cpus=$(nproc) kernel=$(uname -r)"

check() { # check <name> <command...>: runs a check command that prints its own marker
  name=$1; shift
  if ! "$@"; then echo "PPCHECK FAIL $name: exited non-zero"; fi
}

insmod_all() {
  for m in procpulse_cpu procpulse_ram procpulse_procs; do
    insmod /lib/procpulse/$m.ko || return 1
  done
}

finish() {
  echo "PPDMESG-BEGIN"; dmesg; echo "PPDMESG-END"
  echo "PPDONE"
  sync
  reboot -f   # with -no-reboot, QEMU exits (poweroff needs ACPI PM the debug kernel lacks)
}

KC=/bin/procpulse-kmod-check
case "$MODE" in
test)
  if insmod_all; then echo "PPCHECK ok insmod"; else echo "PPCHECK FAIL insmod"; finish; fi
  check fields $KC fields
  check cpu-idle $KC cpu-idle
  check ram $KC ram
  check procs $KC procs
  check stress $KC stress
  check cpu-readers $KC cpu-readers
  check cpu-busy $KC cpu-busy
  check cpu-partial $KC cpu-partial
  check hotplug $KC hotplug
  # An active swap device for the swap check (and everything after it): zram, sized
  # well under the guest's RAM; the check pages part of its own memory out to it.
  if echo 256M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0; then
    check swap $KC swap
  else
    echo "PPCHECK FAIL swap: could not set up a zram swap device"
  fi
  check tasks $KC tasks
  check tasks-pidns $KC tasks-pidns
  check tasks-scale $KC tasks-scale --procs "${SCALE:-100000}"
  if [ -x /bin/procpulse-agent ]; then check agent $KC agent
  else echo "PPCHECK skip agent: procpulse-agent not in the initramfs"; fi
  for m in procpulse_procs procpulse_ram procpulse_cpu; do rmmod $m; done
  check hammer $KC hammer --cycles "${HAMMER:-40}"
  if lsmod | grep -q procpulse; then echo "PPCHECK FAIL unload: modules still loaded"; else echo "PPCHECK ok unload"; fi
  finish
  ;;
bench)
  insmod_all || { echo "PPCHECK FAIL insmod"; finish; }
  ulimit -n 65536 2>/dev/null
  T=$(arg tasks); check bench $KC bench --tasks "$T" --reads $(( 20000000 / T + 20 ))
  finish
  ;;
vm)
  insmod_all || echo "PPCHECK FAIL insmod"
  ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2
  echo "PPVM agent starting on 0.0.0.0:${PORT:-5200}"
  while true; do
    # 50 top rows: the dashboard's process table offers 10, 25 or 50.
    /bin/procpulse-agent --listen "0.0.0.0:${PORT:-5200}" --source auto --hostname "procpulse-vm" --snapshot-top 50
    echo "PPVM agent exited ($?), restarting in 1 s"; sleep 1
  done
  ;;
*)
  echo "PPCHECK FAIL boot: unknown pp.mode '$MODE'"; finish
  ;;
esac
