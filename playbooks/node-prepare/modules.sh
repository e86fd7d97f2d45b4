#!/usr/bin/env bash
# kp playbook: load the kernel modules Kubernetes networking needs, now and at every boot.
# overlay backs containerd's snapshotter; br_netfilter makes bridged pod traffic visible to
# iptables (and creates the net.bridge.* sysctls the next playbook sets).
# Usage: modules.sh check|apply
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=modules.sh
mode=${1:-}

readonly MODULES=(overlay br_netfilter)
readonly CONF=$KP_ROOT/etc/modules-load.d/k8s.conf

conf_content() {
  printf '# Written by kp (node-prepare): kernel modules Kubernetes needs at boot.\n'
  printf '%s\n' "${MODULES[@]}"
}

load_missing_modules() {
  local loaded m
  # lsmod prints a header line, then one module a line with its name first.
  loaded=$(lsmod | awk 'NR > 1 { print $1 }')
  for m in "${MODULES[@]}"; do
    grep -qxF -- "$m" <<<"$loaded" && continue
    if applying; then modprobe -- "$m" >&2; fi
    say "load kernel module $m"
  done
}

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

ensure_file "$CONF" "$(conf_content)" 0644
load_missing_modules
finish
