#!/bin/bash
# One per running VM, the lab's equivalent of its qemu process: sets up the VM's network namespace
# (a veth into the lab bridge) and overlay root, boots the VM's init in fresh namespaces
# (vm-boot.sh), boots it again when the guest asks for a reboot (after the configured delay), and
# removes the namespace and the mount when the VM powers off or the lab stops it (SIGTERM).
# Everything it needs is in $vmdir/vm.env, written by the lab host (src/lib/lab/host/runtime.ts).
set -uo pipefail
vmdir=$1
assets=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=/dev/null
source "$vmdir/vm.env"

stopping=0
child=''

log() { printf '%s kp-lab-vm[%s]: %s\n' "$(date -u +%FT%TZ)" "$KPLAB_VMID" "$*"; }

# The VM init's host PID — only if it really is the init of another PID namespace.
init_pid() {
  local pid
  [[ -r $vmdir/init.pid ]] && read -r pid <"$vmdir/init.pid" && [[ -n $pid ]] || return 1
  [[ $(readlink "/proc/$pid/ns/pid" 2>/dev/null) != "$(readlink /proc/$$/ns/pid)" ]] || return 1
  printf '%s' "$pid"
}

on_term() {
  stopping=1
  local pid
  pid=$(init_pid) && kill -KILL "$pid" 2>/dev/null
  [[ -n $child ]] && kill -KILL "$child" 2>/dev/null
}

cleanup() {
  local pid
  pid=$(init_pid) && kill -KILL "$pid" 2>/dev/null
  ip netns pids "$KPLAB_NETNS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  ip netns del "$KPLAB_NETNS" 2>/dev/null
  if mountpoint -q "$KPLAB_ROOT"; then
    umount "$KPLAB_ROOT" 2>/dev/null || umount -l "$KPLAB_ROOT"
  fi
  rm -f "$vmdir/init.pid" "$vmdir/supervisor.pid"
  log "stopped"
}

setup() {
  mkdir -p "$KPLAB_ROOT"
  if ! mountpoint -q "$KPLAB_ROOT"; then
    mount -t overlay overlay -o "lowerdir=$KPLAB_LOWER,upperdir=$vmdir/disk/upper,workdir=$vmdir/disk/work,index=off" "$KPLAB_ROOT"
  fi
  ip netns del "$KPLAB_NETNS" 2>/dev/null || true
  ip netns add "$KPLAB_NETNS"
  ip link add "$KPLAB_VETH" type veth peer name eth0 netns "$KPLAB_NETNS"
  ip -n "$KPLAB_NETNS" link set eth0 address "$KPLAB_MAC"
  ip link set "$KPLAB_VETH" master "$KPLAB_BRIDGE" up
}

trap on_term TERM INT HUP
trap cleanup EXIT
printf '%s\n' "$$" >"$vmdir/supervisor.pid"
if ! setup; then
  log "setup failed"
  exit 1
fi
log "started"

# Job control, so that the VM's processes do not inherit the SIGINT and SIGQUIT a non-interactive
# shell ignores in its background jobs (Ctrl-C in an SSH session must work as on any machine).
set -m
while ((!stopping)); do
  rm -f "$vmdir/init.pid"
  # The no-boot fault: the boot hangs before the guest's OS runs (no init, network, SSH or agent)
  # while the VM counts as running, until the lab stops it. A reboot then hangs too.
  if [[ -e $vmdir/no-boot ]]; then
    log "boot hangs (fault no-boot)"
    sleep infinity &
    child=$!
    wait "$child"
    child=''
    continue
  fi
  nsenter --net="/run/netns/$KPLAB_NETNS" -- \
    unshare --fork --pid --mount --uts --ipc --propagation private -- \
    /bin/bash "$assets/vm-boot.sh" "$KPLAB_ROOT" "$vmdir" &
  child=$!
  rc=0
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=''
  ((stopping)) && break
  if ((rc == 10)); then
    delay=2
    [[ -r $vmdir/reboot-delay ]] && read -r delay <"$vmdir/reboot-delay"
    log "rebooting in ${delay}s"
    sleep "$delay" &
    wait $!
    continue
  fi
  log "powered off (init exit $rc)"
  break
done
