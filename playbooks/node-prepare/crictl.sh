#!/usr/bin/env bash
# kp playbook: point crictl at containerd's socket, so `crictl ps` works on the node without flags
# (and without the warnings crictl prints while it tries the deprecated dockershim endpoints).
# Usage: crictl.sh check|apply
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=crictl.sh
mode=${1:-}

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
