# shellcheck shell=bash
# The client half of the lab's kubeadm: the stub kubeadm in the lab's packages hands its arguments
# to the lab supervisor over TCP (bash's /dev/tcp; the VM has no curl), and the supervisor does what
# kubeadm would: it reads the --config file from the VM's disk itself, checks it, writes the PKI,
# kubeconfigs and manifests into the VM, and runs the cluster's API server. What kubeadm runs
# locally (systemctl restart kubelet…) it asks the stub to run here, so the VM's own stubs record
# it. Protocol: src/lib/lab/kubeadm/protocol.ts — one line per message, texts in base64.

KPLAB_AGENT_HOST=${KPLAB_AGENT_HOST:-10.77.0.1}
KPLAB_AGENT_PORT=${KPLAB_AGENT_PORT:-6449}

# Sets REPLY to $1 in base64 on one line, or - for the empty string.
kplab_b64() {
  if [[ -z $1 ]]; then REPLY=-; else REPLY=$(printf '%s' "$1" | base64 -w0); fi
}

# Prints the text a base64 word stands for.
kplab_unb64() {
  [[ $1 == - ]] || printf '%s' "$1" | base64 -d
}

# Sets KPLAB_LOG_ARGS to the arguments with the values of secret-bearing flags replaced, so that
# calls.log records what was run but never a token or a certificate key.
kplab_kubeadm_log_args() {
  local a hide=0
  KPLAB_LOG_ARGS=()
  for a in "$@"; do
    if ((hide)); then
      KPLAB_LOG_ARGS+=('<redacted>')
      hide=0
      continue
    fi
    case $a in
      --token=* | --certificate-key=* | --discovery-token=* | --tls-bootstrap-token=*) KPLAB_LOG_ARGS+=("${a%%=*}=<redacted>") ;;
      --token | --certificate-key | --discovery-token | --tls-bootstrap-token) KPLAB_LOG_ARGS+=("$a"); hide=1 ;;
      *) KPLAB_LOG_ARGS+=("$a") ;;
    esac
  done
}

# kplab_kubeadm_remote VERSION ARG…: runs the call through the supervisor and exits with its code.
kplab_kubeadm_remote() {
  local version=$1 line a kind w1 w2 fd out rc answer
  shift
  kplab_b64 "$PWD"
  line="KPLAB1 kubeadm $version $EUID $REPLY"
  for a in "$@"; do
    kplab_b64 "$a"
    line+=" $REPLY"
  done
  # The group keeps 2>/dev/null to the connection attempt: on a bare exec it would stay for good.
  if ! { exec {fd}<>"/dev/tcp/$KPLAB_AGENT_HOST/$KPLAB_AGENT_PORT"; } 2>/dev/null; then
    printf 'kp lab: cannot reach the lab supervisor at %s:%s (is the lab up?)\n' "$KPLAB_AGENT_HOST" "$KPLAB_AGENT_PORT" >&2
    exit 1
  fi
  printf '%s\n' "$line" >&"$fd"
  while IFS=' ' read -r kind w1 w2 <&"$fd"; do
    case $kind in
      out) kplab_unb64 "$w1" ;;
      err) kplab_unb64 "$w1" >&2 ;;
      run)
        local argv=()
        for a in $w1 $w2; do argv+=("$(kplab_unb64 "$a")"); done
        rc=0
        out=$("${argv[@]}" 2>&1) || rc=$?
        kplab_b64 "$out"
        printf 'rc %d %s\n' "$rc" "$REPLY" >&"$fd"
        ;;
      ask)
        kplab_unb64 "$w1"
        answer=''
        IFS= read -r answer || true
        kplab_b64 "$answer"
        printf 'answer %s\n' "$REPLY" >&"$fd"
        ;;
      exit) exit "$w1" ;;
    esac
  done
  printf 'kp lab: the lab supervisor closed the connection before kubeadm finished\n' >&2
  exit 1
}
