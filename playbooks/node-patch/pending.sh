#!/usr/bin/env bash
# kp playbook: what kp node patch would do on this node, read-only but for the package lists: the
# boot id, the reboot-required files, the held packages, the Kubernetes packages' versions, whether
# dpkg was left half-way, then `apt-get -s upgrade|dist-upgrade` as apt prints it (src/lib/apt.ts).
# Usage: pending.sh upgrade|dist-upgrade update|no-update
set -euo pipefail

if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/../node-prepare/lib.sh
  source "${BASH_SOURCE[0]%/*}/../node-prepare/lib.sh"
  # shellcheck source=SCRIPTDIR/lock.sh
  source "${BASH_SOURCE[0]%/*}/lock.sh"
fi

readonly ME=pending.sh
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

kind=${1:-}
refresh=${2:-}
[[ $kind == upgrade || $kind == dist-upgrade ]] || die "usage: $ME upgrade|dist-upgrade update|no-update (got '$kind')"
[[ $refresh == update || $refresh == no-update ]] || die "usage: $ME upgrade|dist-upgrade update|no-update (got '$refresh')"

if [[ $refresh == update ]]; then
  # A mirror that hangs is cut off and tried again, as node-prepare does.
  ok=0
  for attempt in 1 2 3; do
    if timeout 120 apt-get update -o Acquire::Retries=3 -o Acquire::http::Timeout=60 >&2; then ok=1; break; fi
    printf '%s: apt-get update did not finish (attempt %d of 3)\n' "$ME" "$attempt" >&2
  done
  ((ok)) || die "apt-get update failed 3 times: check the node's package sources (/etc/apt/sources.list.d) and its network"
fi

printf 'boot-id=%s\n' "$(cat "$KP_ROOT/proc/sys/kernel/random/boot_id")"
if [[ -e $KP_ROOT/var/run/reboot-required ]]; then printf 'reboot-required=1\n'; else printf 'reboot-required=0\n'; fi
# One package a line in the file; sorted and unique here (a package can ask twice).
printf 'reboot-pkgs=%s\n' "$({ sort -u "$KP_ROOT/var/run/reboot-required.pkgs" 2>/dev/null || true; } | tr '\n' ' ')"
printf 'held=%s\n' "$(apt-mark showhold | tr '\n' ' ')"
while read -r pkg version _; do printf 'kube=%s=%s\n' "$pkg" "$version"; done < <(kubernetes_state)
if dpkg_interrupted; then printf 'dpkg-interrupted=1\n'; else printf 'dpkg-interrupted=0\n'; fi
code=0
simulated=$(apt-get -s -o Debug::NoLocking=1 "$kind" 2>&1) || code=$?
printf 'simulate-exit=%d\n--- apt-get -s\n%s\n' "$code" "$simulated"
