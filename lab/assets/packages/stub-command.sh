#!/bin/bash
# kp lab stub for @COMMAND@ @VERSION@ (package @PACKAGE@), built by the lab's package repositories.
# Prints its version like the real binary and records every call to /var/log/kp-lab/calls.log;
# kubeadm's other commands are simulated by the lab supervisor (kubeadm-client.sh), the kubelet by
# the supervisor watching the VM (its service state and files).
set -euo pipefail
KPLAB_LOG_ARGS=("$@")
stub_command=@COMMAND@
if [[ $stub_command == kubeadm && -r /usr/lib/kp-lab/kubeadm-client.sh ]]; then
  # shellcheck source=../image/rootfs/usr/lib/kp-lab/kubeadm-client.sh
  source /usr/lib/kp-lab/kubeadm-client.sh
  kplab_kubeadm_log_args "$@"
fi
if [[ -r /usr/lib/kp-lab/stub-lib.sh ]]; then
  # shellcheck source=../image/rootfs/usr/lib/kp-lab/stub-lib.sh
  source /usr/lib/kp-lab/stub-lib.sh
  kplab_log_call @COMMAND@ "${KPLAB_LOG_ARGS[@]}"
fi

version=@VERSION@
IFS=. read -r major minor _ <<<"$version"
build_date=2025-05-15T10:00:00Z
go_version=go1.23.8

version_info() { # style: go | json | yaml
  case $1 in
    go)
      printf '&version.Info{Major:"%s", Minor:"%s", GitVersion:"v%s", GitCommit:"%s", GitTreeState:"clean", BuildDate:"%s", GoVersion:"%s", Compiler:"gc", Platform:"linux/amd64"}' \
        "$major" "$minor" "$version" 0000000000000000000000000000000000000000 "$build_date" "$go_version"
      ;;
    json)
      printf '{\n    "major": "%s",\n    "minor": "%s",\n    "gitVersion": "v%s",\n    "gitCommit": "%s",\n    "gitTreeState": "clean",\n    "buildDate": "%s",\n    "goVersion": "%s",\n    "compiler": "gc",\n    "platform": "linux/amd64"\n  }' \
        "$major" "$minor" "$version" 0000000000000000000000000000000000000000 "$build_date" "$go_version"
      ;;
    yaml)
      printf '  buildDate: "%s"\n  compiler: gc\n  gitCommit: %s\n  gitTreeState: clean\n  gitVersion: v%s\n  goVersion: %s\n  major: "%s"\n  minor: "%s"\n  platform: linux/amd64\n' \
        "$build_date" 0000000000000000000000000000000000000000 "$version" "$go_version" "$major" "$minor"
      ;;
  esac
}

# Sets output to the value of -o/--output in the arguments (empty when absent).
output=''
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
    -o | --output) output=${args[i + 1]:-} ;;
    -o* ) output=${args[i]#-o} ;;
    --output=*) output=${args[i]#--output=} ;;
  esac
done

not_simulated() {
  printf 'kp lab: %s %s is recorded but not simulated yet\n' "@COMMAND@" "$*" >&2
  exit 0
}

command=@COMMAND@
case $command in
  kubeadm)
    if [[ ${1:-} == version ]]; then
      case $output in
        short) printf 'v%s\n' "$version" ;;
        json) printf '{\n  "clientVersion": '; version_info json; printf '\n}\n' ;;
        yaml) printf 'clientVersion:\n'; version_info yaml ;;
        *) printf 'kubeadm version: '; version_info go; printf '\n' ;;
      esac
      exit 0
    fi
    if declare -F kplab_kubeadm_remote >/dev/null; then kplab_kubeadm_remote "$version" "$@"; fi
    not_simulated "$@"
    ;;
  kubelet)
    for a in "$@"; do
      if [[ $a == --version || $a == --version=true ]]; then
        printf 'Kubernetes v%s\n' "$version"
        exit 0
      fi
    done
    not_simulated "$@"
    ;;
  kubectl)
    if [[ ${1:-} == version ]]; then
      client=0
      for a in "$@"; do [[ $a == --client || $a == --client=true ]] && client=1; done
      case $output in
        json) printf '{\n  "clientVersion": '; version_info json; printf ',\n  "kustomizeVersion": "v5.4.2"\n}\n' ;;
        yaml) printf 'clientVersion:\n'; version_info yaml; printf 'kustomizeVersion: v5.4.2\n' ;;
        *) printf 'Client Version: v%s\nKustomize Version: v5.4.2\n' "$version" ;;
      esac
      if ((!client)); then
        printf 'The connection to the server localhost:8080 was refused - did you specify the right host or port?\n' >&2
        exit 1
      fi
      exit 0
    fi
    not_simulated "$@"
    ;;
  crictl)
    if [[ ${1:-} == --version || ${1:-} == -v ]]; then
      printf 'crictl version v%s\n' "$version"
      exit 0
    fi
    if [[ ${1:-} == ps || ${1:-} == exec ]] && [[ -r /usr/lib/kp-lab/crictl.sh ]]; then
      # shellcheck source=../image/rootfs/usr/lib/kp-lab/crictl.sh
      source /usr/lib/kp-lab/crictl.sh
      kplab_crictl "$@"
    fi
    not_simulated "$@"
    ;;
  *)
    # A CNI plugin: answers the CNI VERSION command.
    if [[ ${CNI_COMMAND:-} == VERSION || ${1:-} == version ]]; then
      printf '{"cniVersion":"1.0.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0"]}\n'
      exit 0
    fi
    printf 'CNI %s plugin v%s\n' "@COMMAND@" "$version"
    ;;
esac
