#!/usr/bin/env bash
# Helpers every node-prepare playbook uses. kp sends this file ahead of the playbook on stdin
# (`cat lib.sh PLAYBOOK | sudo -n bash -s -- MODE ARGS`); a playbook run from its file sources it.
# The playbook sets ME (its name) and mode (check|apply) before calling them.
# shellcheck shell=bash disable=SC2034,SC2154  # changed and KP_ROOT are read by the playbooks; ME and mode are theirs

set -euo pipefail
readonly KP_ROOT=${KP_ROOT:-}
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

# Prints the installed version of a package, or nothing when it is not installed.
installed_version() {
  local out
  out=$(dpkg-query -W -f='${Status} ${Version}' "$1" 2>/dev/null) || return 0
  # A held package's status is "hold ok installed".
  [[ $out == 'install ok installed '* || $out == 'hold ok installed '* ]] && printf '%s\n' "${out#* ok installed }"
  return 0
}

# An earlier run cut off mid-way (kp killed, SSH dropped) can leave apt-get or dpkg running on
# the node: wait for it instead of failing on apt's lock.
apt_get() {
  local i
  for ((i = 0; i < 600; i++)); do
    pgrep -x apt-get >/dev/null || pgrep -x dpkg >/dev/null || pgrep -x apt >/dev/null || break
    sleep 1
  done
  # A stalled mirror or proxy is retried rather than waited on forever.
  local options=(-o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60)
  if [[ $1 != update ]]; then
    apt-get "$1" "${options[@]}" "${@:2}"
    return
  fi
  # apt can wait forever on a connection the mirror or proxy closed mid-update (seen in the lab:
  # the http method stuck in CLOSE-WAIT): an update that takes over 2 minutes is stopped and retried.
  local attempt
  for attempt in 1 2 3; do
    timeout 120 apt-get update "${options[@]}" "${@:2}" && return 0
    printf '%s: apt-get update did not finish (attempt %d of 3)\n' "$ME" "$attempt" >&2
  done
  return 1
}
