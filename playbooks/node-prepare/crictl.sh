#!/usr/bin/env bash
# kp playbook: point crictl at containerd's socket, so `crictl ps` works on the node without flags
# (and without the warnings crictl prints while it tries the deprecated dockershim endpoints).
# Usage: crictl.sh check|apply
set -euo pipefail

readonly ME=crictl.sh
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

readonly CONF=$KP_ROOT/etc/crictl.yaml
readonly SOCKET=unix:///run/containerd/containerd.sock

case $mode in
  check | apply) ;;
  *) die "usage: $ME check|apply (got '${mode}')" ;;
esac

ensure_file "$CONF" "# Written by kp (node-prepare).
runtime-endpoint: $SOCKET
image-endpoint: $SOCKET
timeout: 10" 0644
finish
