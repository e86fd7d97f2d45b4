#!/usr/bin/env bash
# kp playbook: the kernel parameters kubeadm's preflight requires: bridged traffic goes through
# iptables (needs br_netfilter, loaded by modules.sh before this), and IPv4 forwarding is on.
# Usage: sysctl.sh check|apply
set -euo pipefail

readonly ME=sysctl.sh
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

# Whether FILE holds exactly CONTENT plus a final newline.
same_content() { [[ -f $1 ]] && cmp -s "$1" <(printf '%s\n' "$2"); }

# Writes CONTENT to FILE with PERM through a temp file beside it: readers never see half a file.
put_file() {
  local file=$1 content=$2 perm=$3 tmp
  mkdir -p "${file%/*}"
  tmp=$(mktemp "$file.kp.XXXXXX")
  printf '%s\n' "$content" >"$tmp"
  chmod "$perm" "$tmp"
  mv -f "$tmp" "$file"
}

# ensure_file FILE CONTENT PERM: write only when the content differs (the path in messages is the node's).
ensure_file() {
  same_content "$1" "$2" && return 0
  if applying; then put_file "$1" "$2" "$3"; fi
  say "write ${1#"$KP_ROOT"}"
}

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
