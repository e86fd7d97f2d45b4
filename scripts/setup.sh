#!/usr/bin/env bash
# One-time set-up of a Debian/Ubuntu machine for kp's lab, demo and tests: the Debian packages the
# lab and the tests use, then npm ci and the build. Safe to run again.
# Run it as yourself or as root: only the packages need root, so a user who is not root gets
# them through sudo (this script again, with --packages), and npm ci and the build run as that
# user, leaving no root-owned files in the clone.
# Usage: setup.sh [--check | --packages]
#   --check     say what it would do, change nothing (exit 2 when it could not do it)
#   --packages  only the Debian packages (needs root)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
readonly SELF=$PWD/scripts/setup.sh

mode=all
case ${1:-} in
  '') ;;
  --check) mode=check ;;
  --packages) mode=packages ;;
  *) echo "usage: scripts/setup.sh [--check | --packages]" >&2; exit 2 ;;
esac

# The lab builds a Debian root with debootstrap, serves apt through apt-cacher-ng and runs VMs in
# namespaces; the tests drive them with the real OpenSSH client. openssl: the lab's certificates
# (Kubernetes API, kubeadm PKI). openssh-server and sudo: the SSH adapter's tests run their own sshd
# on 127.0.0.1. shellcheck: the lint of the node-side scripts. etcd-server, etcd-client: the real etcd
# (3.4) that the lab's control planes run and that kp's backup tests snapshot on 127.0.0.1.
apt_packages=(shellcheck sudo debootstrap debian-archive-keyring apt-cacher-ng iproute2 util-linux mount
  coreutils dpkg gnupg openssh-client openssh-server procps openssl etcd-server etcd-client)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done

install_packages() {
  apt-get update -qq
  # No daemons at install time: the lab runs its own apt-cacher-ng on the lab bridge, and a system
  # one listening on every address would take its port.
  local policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ $(trap -p EXIT) ]]; then rm -f "$policy"; trap - EXIT; fi
}

if ((${#missing[@]})); then
  if ((EUID == 0)); then
    if [[ $mode == check ]]; then echo "setup: would install the Debian packages ${missing[*]} (apt-get, as root)"; else install_packages; fi
  elif [[ $mode == packages ]]; then
    echo "setup: installing the Debian packages needs root; run: sudo $SELF --packages" >&2
    exit 2
  elif command -v sudo >/dev/null; then
    if [[ $mode == check ]]; then
      echo "setup: would install the Debian packages ${missing[*]} as root through sudo ($SELF --packages)"
    else
      echo "setup: the Debian packages ${missing[*]} need root: asking sudo" >&2
      sudo -- "$BASH" "$SELF" --packages
    fi
  else
    echo "setup: the Debian packages ${missing[*]} are missing, and installing them needs root: you are not root and sudo is not installed." >&2
    echo "  As root (su - or a root login), run: $SELF --packages" >&2
    echo "  then run scripts/setup.sh again as yourself for npm ci and the build." >&2
    exit 2
  fi
elif [[ $mode == check ]]; then
  echo "setup: the Debian packages are all installed"
fi

[[ $mode == packages ]] && exit 0
if [[ $mode == check ]]; then
  echo "setup: would run npm ci and npm run build (as $(id -un))"
  exit 0
fi
npm ci --no-audit --no-fund
npm run build
