#!/usr/bin/env bash
# kp playbook: the read-only final check of node-prepare, one line per requirement kubeadm has of
# the node ("ok: …" or "FAIL: …"), so a failure names what to fix. Exits 1 when any check failed.
# Usage: verify.sh VERSION PAUSE_IMAGE
# shellcheck disable=SC2317 # the check functions are called through expect()
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=verify.sh
readonly CONTAINERD_CONF=$KP_ROOT/etc/containerd/config.toml
failed=0

# expect DESCRIPTION COMMAND...: runs a read-only test and prints its verdict.
expect() {
  local what=$1
  shift
  if "$@" >/dev/null 2>&1; then
    printf 'ok: %s\n' "$what"
  else
    printf 'FAIL: %s\n' "$what"
    failed=1
  fi
}

no_active_swap() { [[ -z $(swapon --show --noheadings) ]]; }

no_fstab_swap() {
  [[ ! -f $KP_ROOT/etc/fstab ]] || ! awk '$1 !~ /^#/ && $3 == "swap" { found = 1 } END { exit !found }' "$KP_ROOT/etc/fstab"
}

module_loaded() { lsmod | awk -v m="$1" 'NR > 1 && $1 == m { found = 1 } END { exit !found }'; }

sysctl_is_1() { [[ $(sysctl -n "$1") == 1 ]]; }

# A `key = value` line in the config, whatever its indentation.
config_has() { grep -qE "^[[:space:]]*$1[[:space:]]*=[[:space:]]*$2[[:space:]]*$" "$CONTAINERD_CONF"; }

package_at() {
  local out
  out=$(dpkg-query -W -f='${Status} ${Version}' "$1") || return 1
  # shellcheck disable=SC2053 # $2 is a glob on purpose (1.31.8-* or 1.31.*)
  # A held package's status is "hold ok installed".
  [[ $out == 'install ok installed '$2 || $out == 'hold ok installed '$2 ]]
}

# Captured first: grep -q stops reading early, and with pipefail the writer's SIGPIPE would fail.
held() {
  local list
  list=$(apt-mark showhold)
  grep -qxF -- "$1" <<<"$list"
}

version=${1:-}
pause=${2:-}
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "usage: $ME VERSION PAUSE_IMAGE (VERSION like 1.31.8, got '$version')"
[[ $pause =~ ^[a-z0-9][a-z0-9._/:@-]*$ ]] || die "PAUSE_IMAGE must be an image reference like registry.k8s.io/pause:3.10: '$pause'"
minor=${version%.*}

expect "no active swap" no_active_swap
expect "no swap line active in /etc/fstab" no_fstab_swap
for m in overlay br_netfilter; do expect "kernel module $m loaded" module_loaded "$m"; done
for k in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward; do
  expect "sysctl $k = 1" sysctl_is_1 "$k"
done
expect "containerd active" systemctl is-active --quiet containerd
expect "containerd enabled" systemctl is-enabled --quiet containerd
expect "containerd uses the systemd cgroup driver (SystemdCgroup = true)" config_has SystemdCgroup true
expect "containerd sandbox image is $pause" config_has sandbox_image "\"${pause//./\\.}\""
for p in kubelet kubeadm kubectl; do expect "$p $version installed" package_at "$p" "$version-*"; done
expect "cri-tools $minor installed" package_at cri-tools "$minor.*"
for p in kubelet kubeadm kubectl cri-tools; do expect "$p held" held "$p"; done
expect "kubelet enabled" systemctl is-enabled --quiet kubelet
expect "/etc/crictl.yaml present" test -s "$KP_ROOT/etc/crictl.yaml"
exit "$failed"
