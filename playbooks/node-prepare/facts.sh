#!/usr/bin/env bash
# kp playbook: read-only facts about the node, printed as ONE JSON object on stdout. kp refuses
# to go on (before any change) on what would break kubeadm: a wrong OS, two VMs sharing a
# product_uuid or a MAC address (cloned without new identities), too little memory or CPU.
# Usage: facts.sh   (no mode: it never changes anything)
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=facts.sh
readonly PACKAGES=(containerd kubelet kubeadm kubectl cri-tools)

# Sets REPLY to $1 as a JSON string literal (no jq on the node).
json_str() {
  local s=$1 out='' c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      [[ $c == [[:cntrl:]] ]] && printf -v c '\\u%04x' "'$c"
      out+=$c
    done
    s=$out
  fi
  REPLY="\"$s\""
}

# Prints lines on stdin as a JSON array of strings.
json_array() {
  local line items=''
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    json_str "$line"
    items+=${items:+,}$REPLY
  done
  printf '[%s]' "$items"
}

# Prints the value of KEY in /etc/os-release, without its optional quotes.
os_release() {
  local value
  value=$(awk -F= -v key="$1" '$1 == key { print substr($0, length(key) + 2); exit }' "$KP_ROOT/etc/os-release")
  value=${value#\"}
  value=${value%\"}
  printf '%s' "$value"
}

memory_mib() {
  local kib
  kib=$(awk '$1 == "MemTotal:" { print $2 }' "$KP_ROOT/proc/meminfo")
  [[ $kib =~ ^[0-9]+$ ]] || die "cannot read MemTotal from /proc/meminfo"
  printf '%d' $((kib / 1024))
}

# Non-loopback interfaces: kubeadm needs the MACs unique across nodes.
macs() {
  local dir
  for dir in "$KP_ROOT"/sys/class/net/*/; do
    dir=${dir%/}
    [[ ${dir##*/} == lo || ! -r $dir/address ]] && continue
    cat "$dir/address"
  done | sort
}

packages_json() {
  local pkg out items=''
  for pkg in "${PACKAGES[@]}"; do
    out=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null) || continue
    # A held package's status is "hold ok installed".
    [[ $out == 'install ok installed '* || $out == 'hold ok installed '* ]] || continue
    json_str "${out#* ok installed }"
    items+=${items:+,}\"$pkg\":$REPLY
  done
  printf '{%s}' "$items"
}

# One "key":value pair for the object, string-escaped.
field() {
  json_str "$2"
  printf '"%s":%s' "$1" "$REPLY"
}

main() {
  local os os_version arch cpus mem uuid swap=false name packages held macs_json boot_id
  # Each value is read into a variable first: a failing reader then stops the script (set -e)
  # instead of leaving a hole in the JSON.
  [[ -r $KP_ROOT/etc/os-release ]] || die "cannot read /etc/os-release"
  os=$(os_release ID)
  os_version=$(os_release VERSION_ID)
  arch=$(dpkg --print-architecture)
  cpus=$(nproc)
  [[ $cpus =~ ^[0-9]+$ ]] || die "nproc printed '$cpus'"
  mem=$(memory_mib)
  # product_uuid is readable by root only, and some hypervisors have none: empty, not an error.
  uuid=$(cat "$KP_ROOT/sys/class/dmi/id/product_uuid" 2>/dev/null) || uuid=''
  macs_json=$(macs | json_array)
  name=$(hostname)
  [[ -n $(swapon --show --noheadings) ]] && swap=true
  packages=$(packages_json)
  held=$(apt-mark showhold | json_array)
  boot_id=$(cat "$KP_ROOT/proc/sys/kernel/random/boot_id")

  printf '{'
  field os "$os"; printf ','
  field osVersion "$os_version"; printf ','
  field arch "$arch"; printf ','
  printf '"cpus":%d,"memoryMiB":%d,' "$cpus" "$mem"
  field productUuid "$uuid"; printf ','
  printf '"macs":%s,' "$macs_json"
  field hostname "$name"; printf ','
  printf '"swapActive":%s,' "$swap"
  printf '"packages":%s,' "$packages"
  printf '"held":%s,' "$held"
  field bootId "$boot_id"
  printf '}\n'
}

main
