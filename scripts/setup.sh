#!/usr/bin/env bash
# One-time set-up of a Debian/Ubuntu machine for kp's lab, demo and tests (root): the Debian
# packages the lab and the tests use, then npm ci and the build. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# The lab builds a Debian root with debootstrap, serves apt through apt-cacher-ng and runs VMs in
# namespaces; the tests drive them with the real OpenSSH client. openssl: the lab's certificates
# (Kubernetes API, kubeadm PKI). openssh-server and sudo: the SSH adapter's tests run their own sshd
# on 127.0.0.1. shellcheck: the lint of the node-side scripts.
apt_packages=(shellcheck sudo debootstrap debian-archive-keyring apt-cacher-ng iproute2 util-linux mount
  coreutils dpkg gnupg openssh-client openssh-server procps openssl)
missing=()
for p in "${apt_packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  if ((EUID != 0)); then
    echo "setup: missing Debian packages (${missing[*]}); run as root: sudo $0" >&2
    exit 2
  fi
  apt-get update -qq
  # No daemons at install time: the lab runs its own apt-cacher-ng on the lab bridge, and a system
  # one listening on every address would take its port.
  policy=/usr/sbin/policy-rc.d
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ $(trap -p EXIT) ]]; then rm -f "$policy"; trap - EXIT; fi
fi

npm ci --no-audit --no-fund
npm run build
