#!/bin/bash
# Runs as PID 1 of a fresh PID, mount, UTS and IPC namespace, inside the VM's network namespace
# (vm-supervise.sh starts it with nsenter + unshare). Prepares the VM's root the way a container
# runtime would — its own /proc, a read-only /sys, a small /dev with its own devpts, a fresh /run,
# the cloud-init seed, a new boot id — then pivots into the VM's overlay and execs the VM's init,
# which stays PID 1. When it exits, the kernel ends every process of the VM and these mounts go
# with the namespace.
set -euo pipefail
root=$1 vmdir=$2

# /proc is still the host's here, so this is our PID as the host sees it.
read -r hostpid _ </proc/self/stat
printf '%s\n' "$hostpid" >"$vmdir/init.pid.tmp"
mv -f "$vmdir/init.pid.tmp" "$vmdir/init.pid"

mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

mount -t tmpfs -o nosuid,mode=0755,size=65536k tmpfs "$root/dev"
mknod -m 0666 "$root/dev/null" c 1 3
mknod -m 0666 "$root/dev/zero" c 1 5
mknod -m 0666 "$root/dev/full" c 1 7
mknod -m 0666 "$root/dev/random" c 1 8
mknod -m 0666 "$root/dev/urandom" c 1 9
mknod -m 0666 "$root/dev/tty" c 5 0
mkdir -m 0755 "$root/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5,nosuid,noexec devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
mkdir -m 1777 "$root/dev/shm"
mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$root/dev/shm"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"

mount -t tmpfs -o nosuid,nodev,mode=0755,size=262144k tmpfs "$root/run"
mkdir -p "$root/run/kp-lab/seed"
mount --bind "$vmdir/seed" "$root/run/kp-lab/seed"
mount -o remount,bind,ro "$root/run/kp-lab/seed"

# The VM shares the host's kernel: make its writable kernel knobs read-only (the stubs record what
# would have been set), and show it its own boot id, swaps and modules.
cat /proc/sys/kernel/random/uuid >"$root/run/kp-lab/boot_id"
: >"$root/run/kp-lab/proc-swaps"
: >"$root/run/kp-lab/proc-modules"
mount --bind "$root/proc/sys" "$root/proc/sys"
mount -o remount,bind,ro "$root/proc/sys"
if [[ -e $root/proc/sysrq-trigger ]]; then
  mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
  mount -o remount,bind,ro "$root/proc/sysrq-trigger"
fi
mount --bind "$root/run/kp-lab/boot_id" "$root/proc/sys/kernel/random/boot_id"
# (A kernel without swap or module support has no such files to shadow.)
[[ -e $root/proc/swaps ]] && mount --bind "$root/run/kp-lab/proc-swaps" "$root/proc/swaps"
[[ -e $root/proc/modules ]] && mount --bind "$root/run/kp-lab/proc-modules" "$root/proc/modules"

# A chroot that cannot see the host's mounts: the old root goes away entirely.
cd "$root"
pivot_root . mnt
umount -l /mnt
cd /
exec /usr/local/sbin/kp-lab-init </dev/null
