#!/usr/bin/env bash
# kp playbook: swap off now and at boot. The kubelet refuses to start while swap is on (unless
# configured otherwise), so kubeadm's preflight fails on a node with swap.
# Usage: swap.sh check|apply   (run as root; paths under ${KP_ROOT:-} so tests can use a temp root)
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=swap.sh
readonly FSTAB=$KP_ROOT/etc/fstab
mode=${1:-}

# Prints the fstab lines that would turn swap on at boot (not commented out, type swap).
active_fstab_swaps() {
  [[ -f $FSTAB ]] || return 0
  awk '$1 !~ /^#/ && $3 == "swap"' "$FSTAB"
}

swap_off_now() {
  local active
  active=$(swapon --show --noheadings)
  [[ -n $active ]] || return 0
  if applying; then swapoff -a >&2; fi
  say "turn off active swap: $(awk '{print $1}' <<<"$active" | paste -sd, -)"
}

# Comments the lines out rather than deleting them, so undoing is removing the prefix.
swap_off_at_boot() {
  local lines line tmp
  lines=$(active_fstab_swaps)
  [[ -n $lines ]] || return 0
  if applying; then
    tmp=$(mktemp "$FSTAB.kp.XXXXXX")
    awk '$1 !~ /^#/ && $3 == "swap" { print "#kp-disabled: " $0; next } { print }' "$FSTAB" >"$tmp"
    chmod --reference="$FSTAB" "$tmp"
    mv -f "$tmp" "$FSTAB"
  fi
  while IFS= read -r line; do say "disable swap line in /etc/fstab: $line"; done <<<"$lines"
}

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

swap_off_now
swap_off_at_boot
finish
