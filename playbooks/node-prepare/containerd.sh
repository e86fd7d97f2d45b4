#!/usr/bin/env bash
# kp playbook: containerd installed from Debian, configured as kubeadm expects (systemd cgroup
# driver, like the kubelet's default; the pause image of this Kubernetes minor, so kubeadm does not
# warn and the sandbox image is not pulled twice), enabled and running.
# Usage: containerd.sh check|apply PAUSE_IMAGE
#        containerd.sh render PAUSE_IMAGE < default-config   (prints the config kp would write)
set -euo pipefail

# The shared helpers: kp sends lib.sh ahead of this script on stdin; run from its file, it
# sits beside it.
if ! declare -F die >/dev/null; then
  # shellcheck source=SCRIPTDIR/lib.sh
  source "${BASH_SOURCE[0]%/*}/lib.sh"
fi

readonly ME=containerd.sh
mode=${1:-}

readonly CONF=$KP_ROOT/etc/containerd/config.toml
readonly CRI='[plugins."io.containerd.grpc.v1.cri"]'
readonly RUNC_OPTIONS='[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'
export DEBIAN_FRONTEND=noninteractive

validate() {
  case $mode in
    check | apply | render) ;;
    *) die "usage: $ME check|apply|render PAUSE_IMAGE (got mode '${mode}')" ;;
  esac
  # An image reference: no quotes, spaces or backslashes can reach the TOML string.
  [[ $pause =~ ^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$ ]] ||
    die "PAUSE_IMAGE must be an image reference like registry.k8s.io/pause:3.10: '$pause'"
}

# Reads `containerd config default` (config version 2, containerd 1.6/1.7) on stdin and prints it
# with SystemdCgroup = true for runc and sandbox_image = PAUSE_IMAGE. Each key is replaced in its
# own table, or added at the end of the table when missing; a missing table is an error, since
# then this is not the config format this playbook knows.
render_config() {
  awk -v cri="$CRI" -v runc="$RUNC_OPTIONS" -v image="$pause" '
    function close_table() {
      if (table == cri && !seen_image) print indent "sandbox_image = \"" image "\""
      if (table == runc && !seen_cgroup) print indent "SystemdCgroup = true"
    }
    /^[[:space:]]*\[/ {
      close_table()
      line = $0; sub(/^[[:space:]]+/, "", line)
      table = line; seen_image = 0; seen_cgroup = 0
      match($0, /^[[:space:]]*/); indent = substr($0, 1, RLENGTH) "  "
      if (table == cri) found_cri = 1
      if (table == runc) found_runc = 1
      print; next
    }
    table == cri && $1 == "sandbox_image" {
      match($0, /^[[:space:]]*/); print substr($0, 1, RLENGTH) "sandbox_image = \"" image "\""
      seen_image = 1; next
    }
    table == runc && $1 == "SystemdCgroup" {
      match($0, /^[[:space:]]*/); print substr($0, 1, RLENGTH) "SystemdCgroup = true"
      seen_cgroup = 1; next
    }
    { print }
    END {
      close_table()
      if (!found_cri || !found_runc) exit 3
    }
  ' || die "the default config has no $CRI or $RUNC_OPTIONS table: not a containerd 1.6/1.7 config"
}

installed() { [[ $(dpkg-query -W -f='${Status}' containerd 2>/dev/null) == *' ok installed' ]]; }

ensure_installed() {
  installed && return 0
  if applying; then
    # Refresh the package lists only when they do not know containerd yet (a fresh image).
    local policy
    policy=$(apt-cache policy containerd 2>/dev/null || true)
    if [[ -z $policy || $policy == *'Candidate: (none)'* ]]; then apt_get update >&2; fi
    apt_get install -y -o Dpkg::Options::=--force-confold containerd >&2
  fi
  say "install package containerd"
}

# Sets config_changed when config.toml had to be (re)written.
ensure_config() {
  local want
  if ! installed; then
    # check mode on a node without containerd: there is no default config to render yet.
    say "write /etc/containerd/config.toml (SystemdCgroup = true, sandbox_image = \"$pause\")"
    config_changed=1
    return 0
  fi
  want=$(containerd config default | render_config)
  same_content "$CONF" "$want" && return 0
  if applying; then put_file "$CONF" "$want" 0644; fi
  say "write /etc/containerd/config.toml (SystemdCgroup = true, sandbox_image = \"$pause\")"
  config_changed=1
}

ensure_service() {
  if ! systemctl is-enabled --quiet containerd; then
    if applying; then systemctl enable containerd >&2; fi
    say "enable containerd"
  fi
  # containerd reads its config only at start: a new config needs a restart, which also starts it.
  if ((config_changed)); then
    if applying; then systemctl restart containerd >&2; fi
    say "restart containerd"
  elif ! systemctl is-active --quiet containerd; then
    if applying; then systemctl start containerd >&2; fi
    say "start containerd"
  fi
}

pause=${2:-}
config_changed=0
validate
if [[ $mode == render ]]; then
  render_config
  exit 0
fi
ensure_installed
ensure_config
ensure_service
finish
