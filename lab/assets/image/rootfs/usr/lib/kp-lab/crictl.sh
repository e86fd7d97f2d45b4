# shellcheck shell=bash
# crictl in the lab, for the containers the lab kubelet runs (/usr/lib/kp-lab/container-run keeps
# them in /run/kp-lab/containers/<id>/): `ps` and `exec`, in crictl's words. A container "runs" while
# its recorded PID is alive with the recorded command. `exec` runs a command of the container's image
# (the image's own folders are its PATH, as in the distroless etcd image: no shell, no coreutils),
# with the node's files where kubeadm's hostPath mounts put them (/var/lib/etcd,
# /etc/kubernetes/pki/etcd). Sourced by the cri-tools package's crictl stub.

KPLAB_CONTAINERS=/run/kp-lab/containers

kplab_crictl_fatal() {
  printf 'time="%s" level=fatal msg="%s"\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" >&2
  exit 1
}

# Sets REPLY to running|exited for a container folder.
kplab_crictl_state() {
  local dir=$1 pid cmd
  REPLY=exited
  pid=$(cat "$dir/pid" 2>/dev/null) || return 0
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 0
  [[ ${cmd%% *} == "$(cat "$dir/command")" ]] && REPLY=running
  return 0
}

kplab_crictl_ps() {
  local name='' state='' quiet=0 all=0 output=table dir id st rows=() first=1 created age
  while (($#)); do
    case $1 in
      --name) name=${2:-}; shift ;;
      --name=*) name=${1#--name=} ;;
      -s | --state) state=${2:-}; shift ;;
      --state=*) state=${1#--state=} ;;
      -q | --quiet) quiet=1 ;;
      -a | --all) all=1 ;;
      -o | --output) output=${2:-}; shift ;;
      --output=* | -o=*) output=${1#*=} ;;
      -aq | -qa) all=1 quiet=1 ;;
      *) kplab_crictl_fatal "kp lab: crictl ps $1 is not simulated (--name, --state, -q, -a, -o json|table)" ;;
    esac
    shift
  done
  state=${state,,}
  [[ -n $state ]] && all=1
  case $state in '' | running | exited) ;; *) state=none ;; esac
  case $output in json | table) ;; *) kplab_crictl_fatal "kp lab: crictl ps -o $output is not simulated (json, table)" ;; esac
  for dir in "$KPLAB_CONTAINERS"/*/; do
    [[ -d $dir ]] || continue
    dir=${dir%/}
    id=${dir##*/}
    kplab_crictl_state "$dir"
    st=$REPLY
    if ((!all)) && [[ $st != running ]]; then continue; fi
    if [[ -n $state && $st != "$state" ]]; then continue; fi
    if [[ -n $name && ! $(cat "$dir/name") =~ $name ]]; then continue; fi
    rows+=("$id")
  done
  if ((quiet)); then
    ((${#rows[@]})) && printf '%s\n' "${rows[@]}"
    return 0
  fi
  if [[ $output == json ]]; then
    printf '{\n  "containers": ['
    for id in "${rows[@]}"; do
      dir=$KPLAB_CONTAINERS/$id
      kplab_crictl_state "$dir"
      ((first)) || printf ','
      first=0
      printf '\n    {\n      "id": "%s",\n      "podSandboxId": "%s",\n      "metadata": {\n        "name": "%s",\n        "attempt": %s\n      },\n' \
        "$id" "$(cat "$dir/pod-id")" "$(cat "$dir/name")" "$(cat "$dir/attempt")"
      printf '      "image": {\n        "image": "%s"\n      },\n      "imageRef": "%s",\n      "state": "CONTAINER_%s",\n      "createdAt": "%s",\n' \
        "$(cat "$dir/image")" "$(cat "$dir/image")" "${REPLY^^}" "$(cat "$dir/created")"
      printf '      "labels": {\n        "io.kubernetes.container.name": "%s",\n        "io.kubernetes.pod.name": "%s",\n        "io.kubernetes.pod.namespace": "kube-system"\n      },\n      "annotations": {}\n    }' \
        "$(cat "$dir/name")" "$(cat "$dir/pod")"
    done
    ((first)) && printf ']\n}\n' || printf '\n  ]\n}\n'
    return 0
  fi
  printf '%-20s%-20s%-20s%-20s%-20s%-20s%-20s%s\n' CONTAINER IMAGE CREATED STATE NAME ATTEMPT 'POD ID' POD
  for id in "${rows[@]}"; do
    dir=$KPLAB_CONTAINERS/$id
    kplab_crictl_state "$dir"
    created=$(cat "$dir/created")
    age=$((EPOCHSECONDS - created / 1000000000))
    if ((age < 60)); then age="$age seconds ago"; elif ((age < 3600)); then age="$((age / 60)) minutes ago"; else age="$((age / 3600)) hours ago"; fi
    # containerd reports the image by its digest, which crictl truncates to 13 characters.
    printf '%-20s%-20s%-20s%-20s%-20s%-20s%-20s%s\n' "${id:0:13}" "$(sha256sum <"$dir/image" | cut -c1-13)" "$age" "${REPLY^}" "$(cat "$dir/name")" "$(cat "$dir/attempt")" \
      "$(cut -c1-13 "$dir/pod-id")" "$(cat "$dir/pod")"
  done
}

kplab_crictl_exec() {
  local ref='' id='' dir matches=() cmd root found='' d
  while (($#)); do
    case $1 in
      -i | --interactive | -t | --tty | -s | --sync | -it | -ti) ;;
      --timeout) shift ;;
      --timeout=*) ;;
      -*) kplab_crictl_fatal "kp lab: crictl exec $1 is not simulated (-i, -t, -s, --timeout)" ;;
      *) break ;;
    esac
    shift
  done
  ref=${1:-}
  [[ -n $ref ]] || kplab_crictl_fatal 'ID cannot be empty'
  shift
  (($#)) || kplab_crictl_fatal 'Command cannot be empty'
  # containerd takes a unique prefix of the id.
  for dir in "$KPLAB_CONTAINERS"/"$ref"*/; do [[ -d $dir ]] && matches+=("${dir%/}"); done
  if ((${#matches[@]} != 1)); then
    kplab_crictl_fatal "execing command in container synchronously: rpc error: code = NotFound desc = an error occurred when try to find container \\\"$ref\\\": not found"
  fi
  dir=${matches[0]}
  id=${dir##*/}
  kplab_crictl_state "$dir"
  [[ $REPLY == running ]] || kplab_crictl_fatal "execing command in container synchronously: rpc error: code = Unknown desc = container is in CONTAINER_EXITED state"
  root=$(cat "$dir/root")
  cmd=$1
  shift
  if [[ $cmd == */* ]]; then
    [[ -x $root$cmd && ! -d $root$cmd ]] && found=$root$cmd
  else
    for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
      if [[ -x $root$d/$cmd && ! -d $root$d/$cmd ]]; then found=$root$d/$cmd; break; fi
    done
  fi
  if [[ -z $found ]]; then
    kplab_crictl_fatal "execing command in container synchronously: rpc error: code = Unknown desc = failed to exec in container: failed to start exec \\\"${id:0:13}\\\": OCI runtime exec failed: exec failed: unable to start container process: exec: \\\"$cmd\\\": executable file not found in \$PATH: unknown"
  fi
  cd / || exit 1
  exec env -i PATH="$root/usr/local/sbin:$root/usr/local/bin:$root/usr/sbin:$root/usr/bin:$root/sbin:$root/bin" HOSTNAME="$(</proc/sys/kernel/hostname)" "$found" "$@"
}

kplab_crictl() {
  if ((EUID != 0)); then
    kplab_crictl_fatal 'validate service connection: validate CRI v1 runtime API for endpoint \"unix:///run/containerd/containerd.sock\": rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: permission denied\"'
  fi
  local sub=${1:-}
  shift || true
  case $sub in
    ps) kplab_crictl_ps "$@"; exit 0 ;;
    exec) kplab_crictl_exec "$@" ;;
    *) return 0 ;;
  esac
}
