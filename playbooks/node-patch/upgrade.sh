#!/usr/bin/env bash
# kp playbook: apt-get upgrade (or dist-upgrade) without questions, keeping the configuration files
# the operator changed (--force-confold; --force-confdef takes the package's default where the
# operator changed nothing). First `dpkg --configure -a` when a killed run left dpkg half-way; a
# dpkg lock someone else holds is waited for LOCK_SECONDS, then named. Afterwards the Kubernetes
# packages must be at the same versions and still held. Prints one line per package changed.
# Usage: upgrade.sh check|apply upgrade|dist-upgrade LOCK_SECONDS
set -euo pipefail

if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/../node-prepare/lib.sh
  source "${BASH_SOURCE[0]%/*}/../node-prepare/lib.sh"
  # shellcheck source=SCRIPTDIR/lock.sh
  source "${BASH_SOURCE[0]%/*}/lock.sh"
fi

readonly ME=upgrade.sh
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

mode=${1:-}
kind=${2:-}
lock_seconds=${3:-}
[[ $mode == check || $mode == apply ]] || die "usage: $ME check|apply upgrade|dist-upgrade LOCK_SECONDS (got mode '$mode')"
[[ $kind == upgrade || $kind == dist-upgrade ]] || die "usage: $ME check|apply upgrade|dist-upgrade LOCK_SECONDS (got '$kind')"
[[ $lock_seconds =~ ^[0-9]+$ ]] || die "LOCK_SECONDS must be a whole number: '$lock_seconds'"

# "pkg version" of every installed package: before and after tell what the upgrade changed.
installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Version}\n' | awk '$1 ~ /^.i/ { print $2, $3 }' | sort; }

dpkg_options=(-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o "DPkg::Lock::Timeout=$lock_seconds")

if [[ $mode == check ]]; then
  dpkg_interrupted && say "finish what an interrupted dpkg left (dpkg --configure -a)"
  # Inst pkg [old] (new repo [arch]), or Inst pkg (new …) for a new package; Remv pkg [old].
  while read -r line; do say "$line"; done < <(apt-get -s -o Debug::NoLocking=1 "$kind" | awk '
    /^Inst / && $3 ~ /^\[/ { print "upgrade " $2 " " substr($3, 2, length($3) - 2) " -> " substr($4, 2); next }
    /^Inst / { print "install " $2 " " substr($3, 2) }
    /^Remv / { print "remove " $2 }')
  finish
fi

before_kube=$(kubernetes_state)
before=$(installed)
wait_for_dpkg_lock "$lock_seconds"
if dpkg_interrupted; then
  say "finish what an interrupted dpkg left (dpkg --configure -a)"
  dpkg --force-confdef --force-confold --configure -a >&2
fi

# apt's own messages stay on stderr for kp's log; kept aside too, to name a lock holder.
errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
code=0
apt-get -y "${dpkg_options[@]}" "$kind" 2>"$errors" >&2 || code=$?
cat "$errors" >&2
if ((code != 0)); then
  holder=$(grep -o 'held by process [0-9]* ([^)]*)' "$errors" | head -n 1 || true)
  [[ -n $holder ]] && die "apt-get $kind could not get the dpkg lock within ${lock_seconds}s: it is ${holder}; let it finish, then kp resume"
  die "apt-get $kind failed (exit $code): see its output above"
fi

after_kube=$(kubernetes_state)
[[ $before_kube == "$after_kube" ]] || die "the Kubernetes packages changed: before [${before_kube//$'\n'/; }], after [${after_kube//$'\n'/; }]: put them back with apt-get install PKG=VERSION and apt-mark hold"

while read -r line; do say "$line"; done < <(join -a 1 -a 2 -e - -o 0,1.2,2.2 <(printf '%s\n' "$before") <(installed) | awk '$2 != $3 { if ($2 == "-") print "install " $1 " " $3; else if ($3 == "-") print "remove " $1; else print "upgrade " $1 " " $2 " -> " $3 }')
finish
