#!/usr/bin/env bash
# Helpers the node-patch playbooks share (the dpkg lock, the Kubernetes packages), sent after node-prepare's lib.sh and before the playbook
# (`cat lib.sh lock.sh PLAYBOOK | sudo -n bash -s -- ARGS`); a playbook run from its file sources both.
# shellcheck shell=bash disable=SC2154  # ME is the playbook's

set -euo pipefail

readonly DPKG_LOCK=/var/lib/dpkg/lock-frontend
# kubeadm's packages: kp node patch never lets apt move them (src/lib/apt.ts has the same list).
readonly KUBERNETES=(kubeadm kubelet kubectl cri-tools kubernetes-cni)

# "pkg version hold|install" for every Kubernetes package installed.
kubernetes_state() {
  local pkg out
  for pkg in "${KUBERNETES[@]}"; do
    out=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null) || continue
    [[ $out == *' ok installed '* ]] && printf '%s %s %s\n' "$pkg" "${out##* }" "${out%% *}"
  done
  return 0
}

# Prints "PID (COMMAND)" of the process holding the dpkg frontend lock, or nothing. /proc/locks
# names the holder of a POSIX or BSD lock by the lock file's inode; no fuser or lsof needed.
dpkg_lock_holder() {
  local ino pid
  ino=$(stat -c %i "$KP_ROOT$DPKG_LOCK" 2>/dev/null) || return 0
  pid=$(awk -v ino="$ino" '{ n = split($(NF - 2), a, ":"); if (a[n] == ino) { print $(NF - 3); exit } }' "$KP_ROOT/proc/locks" 2>/dev/null) || true
  [[ -n $pid ]] || return 0
  printf '%s (%s)\n' "$pid" "$(cat "$KP_ROOT/proc/$pid/comm" 2>/dev/null || echo unknown)"
}

# Waits up to SECONDS for the dpkg lock to be free; fails naming its holder.
wait_for_dpkg_lock() {
  local seconds=$1 waited=0 holder
  while holder=$(dpkg_lock_holder) && [[ -n $holder ]]; do
    if ((waited >= seconds)); then
      die "the dpkg lock $DPKG_LOCK is held by process $holder for more than ${seconds}s: let it finish (or stop it), then kp resume"
    fi
    ((waited == 0)) && printf '%s: waiting up to %ds for the dpkg lock, held by process %s\n' "$ME" "$seconds" "$holder" >&2
    sleep 2
    waited=$((waited + 2))
  done
}

# A run killed during apt-get leaves dpkg half-way: apt-get refuses to work until it is finished.
dpkg_interrupted() {
  [[ -n $(ls -A "$KP_ROOT/var/lib/dpkg/updates" 2>/dev/null) ]] || [[ -n $(dpkg --audit 2>/dev/null) ]]
}
