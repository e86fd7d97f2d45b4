#!/usr/bin/env bash
# kp playbook: swap off now and at boot. The kubelet refuses to start while swap is on (unless
# configured otherwise), so kubeadm's preflight fails on a node with swap.
# Usage: swap.sh check|apply   (run as root; paths under ${KP_ROOT:-} so tests can use a temp root)
set -euo pipefail

readonly ME=swap.sh
readonly KP_ROOT=${KP_ROOT:-}
readonly FSTAB=$KP_ROOT/etc/fstab
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
