#!/usr/bin/env bash
# kp playbook: some of kubeadm, kubelet and kubectl moved to exactly VERSION for a kubeadm upgrade:
# unheld, installed at the package repository's own Debian version of VERSION (VERSION-<revision>,
# the newest revision apt-cache madison lists), held again. kubeadm brings cri-tools along at the
# newest release of VERSION's minor, as node-prepare installs it: kubeadm X.Y depends on cri-tools
# X.Y, which is held too, so apt refuses kubeadm alone ("held broken packages"). The repository must
# already be the one of VERSION's minor (k8s-repo.sh, the "Switch the package repository" step).
# Usage: packages.sh check|apply VERSION PACKAGE…   (VERSION like 1.31.2; PACKAGE kubeadm, kubelet or kubectl)
set -euo pipefail

# The shared helpers: kp sends node-prepare's lib.sh ahead of this script on stdin; run from its
# file, it is in ../node-prepare.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/../node-prepare/lib.sh
  source "${BASH_SOURCE[0]%/*}/../node-prepare/lib.sh"
fi

readonly ME=packages.sh
mode=${1:-}
version=${2:-}
export DEBIAN_FRONTEND=noninteractive

validate() {
  case $mode in
    check | apply) ;;
    *) die "usage: $ME check|apply VERSION PACKAGE… (got mode '${mode}')" ;;
  esac
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION must be X.Y.Z like 1.31.2: '$version'"
  ((${#packages[@]})) || die "name at least one package"
  local pkg
  for pkg in "${packages[@]}"; do
    case $pkg in
      kubeadm | kubelet | kubectl) ;;
      *) die "not a package kubeadm upgrades: '$pkg'" ;;
    esac
  done
}

# What a package's version must start with: VERSION- (cri-tools: any release of the minor).
wanted_prefix() {
  if [[ $1 == cri-tools ]]; then printf '%s.' "${version%.*}"; else printf '%s-' "$version"; fi
}

# The newest version the package lists offer with that prefix (apt-cache madison: "pkg | ver | src").
candidate() {
  { apt-cache madison "$1" 2>/dev/null || true; } |
    awk -F'|' -v prefix="$(wanted_prefix "$1")" '{ gsub(/[[:space:]]/, "", $2); if (index($2, prefix) == 1) print $2 }' |
    sort -V | tail -n 1
}

resolve_targets() {
  local pkg have want refreshed=0
  for pkg in "${packages[@]}"; do
    have=$(installed_version "$pkg")
    [[ $have == "$(wanted_prefix "$pkg")"* ]] && continue
    want=$(candidate "$pkg")
    if [[ -z $want ]] && applying && ((!refreshed)); then
      apt_get update >&2
      refreshed=1
      want=$(candidate "$pkg")
    fi
    if [[ -z $want ]] && ! applying; then
      targets+=("$pkg")
      notes+=("install $pkg $(wanted_prefix "$pkg")* (installed: ${have:-none}; not in the package lists yet)")
      continue
    fi
    [[ -n $want ]] || die "the package repository has no $pkg $(wanted_prefix "$pkg")*: is the repository of Kubernetes ${version%.*} configured (kp upgrade cluster's \"Switch the package repository\" step)?"
    targets+=("$pkg=$want")
    notes+=("install $pkg $want (installed: ${have:-none})")
  done
}

install_targets() {
  local note
  ((${#targets[@]})) || return 0
  if applying; then
    apt-mark unhold "${packages[@]}" >&2
    if ! apt_get install -y -o Dpkg::Options::=--force-confold --allow-change-held-packages "${targets[@]}" >&2; then
      # Never left unheld: an unattended upgrade must not move them while the operator looks.
      apt-mark hold "${packages[@]}" >&2 || true
      die "apt-get install ${targets[*]} failed; the packages are held again"
    fi
    local pkg have
    for pkg in "${packages[@]}"; do
      have=$(installed_version "$pkg")
      [[ $have == "$(wanted_prefix "$pkg")"* ]] || die "$pkg is at '${have:-not installed}' after apt-get install"
    done
    # Held again at once: the hold is part of the install, not a change of its own.
    apt-mark hold "${packages[@]}" >&2
  fi
  for note in "${notes[@]}"; do say "$note"; done
}

hold_all() {
  local held pkg unheld=()
  held=$(apt-mark showhold)
  for pkg in "${packages[@]}"; do
    grep -qxF -- "$pkg" <<<"$held" || unheld+=("$pkg")
  done
  ((${#unheld[@]})) || return 0
  if applying; then apt-mark hold "${unheld[@]}" >&2; fi
  for pkg in "${unheld[@]}"; do say "hold package $pkg"; done
}

packages=("${@:3}")
validate
[[ " ${packages[*]} " == *' kubeadm '* ]] && packages+=(cri-tools)
targets=()
notes=()
resolve_targets
install_targets
hold_all
finish
