#!/usr/bin/env bash
# kp playbook: the kernel parameters kubeadm's preflight requires: bridged traffic goes through
# iptables (needs br_netfilter, loaded by modules.sh before this), and IPv4 forwarding is on.
# Usage: sysctl.sh check|apply
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=sysctl.sh
mode=${1:-}

readonly CONF=$KP_ROOT/etc/sysctl.d/99-kubernetes.conf
readonly KEYS=(net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.ipv4.ip_forward)

conf_content() {
  local k
  printf '# Written by kp (node-prepare): kernel parameters Kubernetes needs.\n'
  for k in "${KEYS[@]}"; do printf '%s = 1\n' "$k"; done
}

# Prints "KEY=VALUE" for each running value that is not 1; a key that cannot be read (the
# net.bridge keys before br_netfilter is loaded) counts as different.
differing_keys() {
  local k v
  for k in "${KEYS[@]}"; do
    v=$(sysctl -n "$k" 2>/dev/null) || v=unreadable
    [[ $v == 1 ]] || printf '%s=%s\n' "$k" "$v"
  done
}

# Loads every sysctl.d file, as at boot, rather than setting keys one by one: what runs is then
# exactly what the next boot will do.
apply_running_values() {
  local wrote=$1 diff
  diff=$(differing_keys)
  ((wrote)) || [[ -n $diff ]] || return 0
  if applying; then
    sysctl --system >&2
    local still
    still=$(differing_keys)
    [[ -z $still ]] || { printf '%s: sysctl --system left: %s\n' "$ME" "$(paste -sd' ' <<<"$still")" >&2; exit 1; }
  fi
  if [[ -n $diff ]]; then
    say "apply kernel parameters (sysctl --system): $(paste -sd' ' <<<"$diff")"
  else
    say "apply kernel parameters (sysctl --system)"
  fi
}

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

wrote=0
same_content "$CONF" "$(conf_content)" || wrote=1
ensure_file "$CONF" "$(conf_content)" 0644
apply_running_values "$wrote"
finish
