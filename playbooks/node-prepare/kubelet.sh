#!/usr/bin/env bash
# kp playbook: enable the kubelet at boot. It is not started here: until kubeadm init or join
# writes its configuration it crash-loops, which is expected, so "active" is not required.
# Usage: kubelet.sh check|apply
set -euo pipefail

readonly ME=kubelet.sh
readonly KP_ROOT=${KP_ROOT:-}
mode=${1:-}
changed=0

die() { printf '%s: %s\n' "$ME" "$*" >&2; exit 2; }

# Reports one change: what apply did, or what check would do.
say() {
  changed=1
  if [[ $mode == check ]]; then printf 'would %s\n' "$1"; else printf '%s\n' "$1"; fi
}

applying() { [[ $mode == apply ]]; }

# check exits 10 when something would change; apply ends with the marker kp parses.
finish() {
  if [[ $mode == check ]]; then
    ((changed)) && exit 10
    exit 0
  fi
  printf 'KP_CHANGED=%d\n' "$changed"
}

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

if ! systemctl is-enabled --quiet kubelet; then
  if applying; then systemctl enable kubelet >&2; fi
  say "enable kubelet"
fi
finish
