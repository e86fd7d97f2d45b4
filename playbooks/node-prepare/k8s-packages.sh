#!/usr/bin/env bash
# kp playbook: kubelet, kubeadm and kubectl at exactly VERSION, cri-tools at the newest release of
# the same minor, all four held so that an unattended upgrade never moves them: a Kubernetes
# upgrade is kubeadm's job, one minor at a time.
# Usage: k8s-packages.sh check|apply VERSION   (VERSION like 1.31.8)
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=k8s-packages.sh
mode=${1:-}

readonly ALL=(kubelet kubeadm kubectl cri-tools)
export DEBIAN_FRONTEND=noninteractive

validate() {
  case $mode in
    check | apply) ;;
    *) die "usage: $ME check|apply VERSION (got mode '${mode}')" ;;
  esac
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "VERSION must be X.Y.Z like 1.31.8: '$version'"
}

# Whether an installed version is the one wanted: VERSION-<revision> for the pinned three, any
# release of the minor for cri-tools (its own release train follows the Kubernetes minors).
version_ok() {
  local pkg=$1 v=$2
  if [[ $pkg == cri-tools ]]; then [[ $v == "$minor".* ]]; else [[ $v == "$version"-* ]]; fi
}

# Prints the versions of a package the package lists offer (apt-cache madison: "pkg | ver | src").
available_versions() {
  { apt-cache madison "$1" 2>/dev/null || true; } | awk -F'|' '{ gsub(/[[:space:]]/, "", $2); if ($2 != "") print $2 }'
}

# Prints the version to install: the newest matching VERSION-* (or MINOR.* for cri-tools).
candidate() {
  local pkg=$1 pattern
  if [[ $pkg == cri-tools ]]; then pattern="^${minor//./\\.}\\."; else pattern="^${version//./\\.}-"; fi
  available_versions "$pkg" | { grep -E "$pattern" || true; } | sort -V | tail -n 1
}

# Fills `targets` (pkg=version for apt-get) for every package not at the wanted version. The
# package lists may predate a new patch release: apply refreshes them once before giving up.
resolve_targets() {
  local pkg have want refreshed=0
  for pkg in "${ALL[@]}"; do
    have=$(installed_version "$pkg")
    [[ -n $have ]] && version_ok "$pkg" "$have" && continue
    want=$(candidate "$pkg")
    if [[ -z $want ]] && applying && ((!refreshed)); then
      apt_get update >&2
      refreshed=1
      want=$(candidate "$pkg")
    fi
    if [[ -z $want ]] && ! applying; then
      # A dry run on a fresh node: the repository step before this one has not run yet.
      targets+=("$pkg")
      notes+=("install $pkg ${version}-* (from the Kubernetes repository; not in the package lists yet)")
      continue
    fi
    if [[ -z $want ]]; then
      if [[ $pkg == cri-tools ]]; then
        die "the package repository has no cri-tools $minor.*: is the repository of Kubernetes $minor configured (k8s-repo.sh)?"
      fi
      die "the package repository has no $pkg $version-*: check that Kubernetes $version is released and that the repository is the one of $minor"
    fi
    targets+=("$pkg=$want")
    notes+=("install $pkg $want (installed: ${have:-none})")
  done
}

install_targets() {
  local note
  ((${#targets[@]})) || return 0
  if applying; then
    # The packages are held: changing them needs --allow-change-held-packages; going back to an
    # older patch needs --allow-downgrades.
    apt_get install -y -o Dpkg::Options::=--force-confold --allow-change-held-packages \
      --allow-downgrades "${targets[@]}" >&2
    verify_installed
  fi
  for note in "${notes[@]}"; do say "$note"; done
}

# After apt-get: fail loudly rather than report a change that did not happen.
verify_installed() {
  local pkg have
  for pkg in "${ALL[@]}"; do
    have=$(installed_version "$pkg")
    version_ok "$pkg" "$have" || die "$pkg is at '${have:-not installed}' after apt-get install"
  done
}

hold_all() {
  local held pkg unheld=()
  held=$(apt-mark showhold)
  for pkg in "${ALL[@]}"; do
    grep -qxF -- "$pkg" <<<"$held" || unheld+=("$pkg")
  done
  ((${#unheld[@]})) || return 0
  if applying; then apt-mark hold "${unheld[@]}" >&2; fi
  for pkg in "${unheld[@]}"; do say "hold package $pkg"; done
}

version=${2:-}
validate
minor=${version%.*}
targets=()
notes=()
resolve_targets
install_targets
hold_all
finish
