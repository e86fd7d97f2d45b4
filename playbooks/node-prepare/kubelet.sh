#!/usr/bin/env bash
# kp playbook: enable the kubelet at boot. It is not started here: until kubeadm init or join
# writes its configuration it crash-loops, which is expected, so "active" is not required.
# Usage: kubelet.sh check|apply
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=kubelet.sh
mode=${1:-}

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

if ! systemctl is-enabled --quiet kubelet; then
  if applying; then systemctl enable kubelet >&2; fi
  say "enable kubelet"
fi
finish
