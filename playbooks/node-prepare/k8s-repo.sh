#!/usr/bin/env bash
# kp playbook: the apt repository of one Kubernetes minor (pkgs.k8s.io has one repository per
# minor), with its signing key in a keyring that only this repository trusts (signed-by).
# Usage: k8s-repo.sh check|apply REPO_URL KEY_URL [FINGERPRINT]
# With FINGERPRINT (40 hex digits, kp.yaml's packages.kubernetesKeyFingerprint) the downloaded key
# must be exactly that one key, or nothing is installed; a KEY_URL over plain http requires it.
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=k8s-repo.sh
mode=${1:-}

readonly KEYRINGS=/etc/apt/keyrings
readonly KEYRING=$KEYRINGS/kubernetes-apt-keyring.gpg
readonly LIST=/etc/apt/sources.list.d/kubernetes.list
export DEBIAN_FRONTEND=noninteractive

validate() {
  case $mode in
    check | apply) ;;
    *) die "usage: $ME check|apply REPO_URL KEY_URL [FINGERPRINT] (got mode '${mode}')" ;;
  esac
  [[ $repo =~ ^https?://[^[:space:]\"\'\\]+/$ ]] || die "REPO_URL must be an http(s) URL ending in /: '$repo'"
  [[ $key_url =~ ^https?://[^[:space:]\"\'\\]+$ ]] || die "KEY_URL must be an http(s) URL: '$key_url'"
  [[ -z $fingerprint || $fingerprint =~ ^[0-9A-F]{40}$ ]] || die "FINGERPRINT must be 40 upper-case hex digits: '$fingerprint'"
  # The key becomes a root trust anchor: over plain http anyone on the path could swap it.
  [[ $key_url == https://* || -n $fingerprint ]] ||
    die "refusing the signing key over plain http ($key_url) without a FINGERPRINT to check it against (kp.yaml: packages.kubernetesKeyFingerprint)"
}

# check_fingerprint FILE: the file must hold exactly one primary key, the pinned one. A second key
# would be trusted too, so a file that adds one to the right key is refused as well.
check_fingerprint() {
  [[ -n $fingerprint ]] || return 0
  local listing found
  listing=$(GNUPGHOME=$work/gnupg gpg --batch --show-keys --with-colons "$1" 2>/dev/null) ||
    die "the key from $key_url is not an OpenPGP key gpg can read; nothing was installed"
  # The fpr record right after each pub record is that primary key's fingerprint (sub keys have their own).
  found=$(awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10; want = 0 }' <<<"$listing" | paste -sd ' ')
  [[ $found == "$fingerprint" ]] ||
    die "the key from $key_url has fingerprint ${found:-none}, not the pinned $fingerprint (packages.kubernetesKeyFingerprint); nothing was installed. Check the mirror, or pin the right key"
}

# ensure_mode PATH PERM: chmod when the permission bits differ.
ensure_mode() {
  [[ $(stat -c %a "$KP_ROOT$1") == "${2#0}" ]] && return 0
  if applying; then chmod "$2" "$KP_ROOT$1"; fi
  say "chmod $2 $1"
}

ensure_keyrings_dir() {
  if [[ ! -d $KP_ROOT$KEYRINGS ]]; then
    if applying; then install -d -m 0755 "$KP_ROOT$KEYRINGS"; fi
    say "create $KEYRINGS (0755)"
    return 0
  fi
  ensure_mode "$KEYRINGS" 0755
}

# Downloads and dearmors the key into a temp file even in check mode (reading the network changes
# nothing on the node): whether the key changed is only known by comparing.
ensure_keyring() {
  local new
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$work'" EXIT
  new=$work/key.gpg
  # A throw-away GNUPGHOME: reading and dearmoring need no keyring, and nothing is left in /root/.gnupg.
  mkdir -m 0700 "$work/gnupg"
  curl -fsSL "$key_url" >"$work/key.asc" || die "cannot download the key from $key_url"
  [[ -s $work/key.asc ]] || die "the key from $key_url is empty"
  check_fingerprint "$work/key.asc"
  GNUPGHOME=$work/gnupg gpg --batch --yes --dearmor <"$work/key.asc" >"$new" || die "cannot dearmor the key from $key_url"
  [[ -s $new ]] || die "the key from $key_url is empty"
  if [[ -f $KP_ROOT$KEYRING ]] && cmp -s "$new" "$KP_ROOT$KEYRING"; then
    ensure_mode "$KEYRING" 0644
    return 0
  fi
  if applying; then install -m 0644 "$new" "$KP_ROOT$KEYRING"; fi
  say "write $KEYRING from $key_url"
  repo_changed=1
}

ensure_list() {
  local want="deb [signed-by=$KEYRING] $repo /"
  same_content "$KP_ROOT$LIST" "$want" && return 0
  # Writing replaces a list of another minor: one kubernetes.list, one minor.
  ensure_file "$KP_ROOT$LIST" "$want" 0644
  repo_changed=1
}

ensure_lists_updated() {
  ((repo_changed)) || return 0
  if applying; then apt_get update >&2; fi
  say "update the package lists (apt-get update)"
}

repo=${2:-}
key_url=${3:-}
fingerprint=${4:-}
work=
repo_changed=0
validate
ensure_keyrings_dir
ensure_keyring
ensure_list
ensure_lists_updated
finish
