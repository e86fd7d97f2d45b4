#!/usr/bin/env bash
# kp playbook: the node's hostname, and an /etc/hosts entry giving it the node's real IP.
# Debian's cloud images map the hostname to 127.0.1.1; kubeadm and the kubelet would then
# advertise a loopback address, so that line goes and a kp-owned block maps NAME to IP.
# Usage: hostname.sh check|apply NAME IP [DOMAIN]
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=hostname.sh
mode=${1:-}

readonly HOSTS=$KP_ROOT/etc/hosts
readonly LABEL='[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?'

validate() {
  case $mode in
    check | apply) ;;
    *) die "usage: $ME check|apply NAME IP [DOMAIN] (got mode '${mode}')" ;;
  esac
  [[ $name =~ ^${LABEL}$ ]] || die "NAME must be one lowercase DNS label (a-z, 0-9, -): '$name'"
  [[ $ip =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || $ip =~ ^[0-9a-fA-F:]*:[0-9a-fA-F:]*$ ]] ||
    die "IP must be an IPv4 or IPv6 address: '$ip'"
  [[ -z $domain || $domain =~ ^${LABEL}(\.${LABEL})*$ ]] || die "DOMAIN must be a DNS domain like lab.example: '$domain'"
}

# Prints /etc/hosts as it should be: 127.0.1.1 lines naming the node dropped, the kp block
# replaced in place (or appended), every other line kept as it was.
render_hosts() {
  local entry=$ip fqdn=''
  if [[ -n $domain ]]; then fqdn=$name.$domain; entry+=" $fqdn"; fi
  entry+=" $name"
  awk -v name="$name" -v fqdn="$fqdn" -v entry="$entry" '
    function block() { print "# BEGIN kp"; print entry; print "# END kp"; done = 1 }
    function names_node(   i) {
      for (i = 2; i <= NF && $i !~ /^#/; i++) if ($i == name || (fqdn != "" && $i == fqdn)) return 1
      return 0
    }
    $0 == "# BEGIN kp" { if (!done) block(); inside = 1; next }
    inside { if ($0 == "# END kp") inside = 0; next }
    $1 == "127.0.1.1" && names_node() { next }
    { print }
    END { if (inside) exit 3; if (!done) block() }
  ' "$HOSTS" || die "$HOSTS has '# BEGIN kp' without '# END kp': fix it by hand"
}

ensure_hosts() {
  local want line
  [[ -f $HOSTS ]] || die "$HOSTS is missing"
  want=$(render_hosts)
  same_content "$HOSTS" "$want" && return 0
  # One line per line added or removed (the block markers are not news).
  local report
  report=$(diff --unchanged-line-format='' --old-line-format='remove from /etc/hosts: %L' \
    --new-line-format='add to /etc/hosts: %L' "$HOSTS" <(printf '%s\n' "$want") | grep -v ': # \(BEGIN\|END\) kp$' || true)
  if applying; then put_file "$HOSTS" "$want" 0644; fi
  if [[ -z $report ]]; then say "rewrite /etc/hosts"; return 0; fi
  while IFS= read -r line; do say "$line"; done <<<"$report"
}

ensure_hostname() {
  local current
  ensure_file "$KP_ROOT/etc/hostname" "$name" 0644
  current=$(hostname)
  [[ $current == "$name" ]] && return 0
  if applying; then hostname "$name" >&2; fi
  say "set the running hostname to $name (was $current)"
}

name=${2:-}
ip=${3:-}
domain=${4:-}
validate
ensure_hostname
ensure_hosts
finish
