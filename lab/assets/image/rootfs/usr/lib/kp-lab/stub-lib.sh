# shellcheck shell=bash
# Shared by the lab image's recording stubs and its init. The stubs stand in for commands that
# would touch the host's kernel or init (systemctl, sysctl, modprobe, swapon, reboot…): each call is
# logged as one JSON line, and what the call would have changed is kept as small files so that the
# reading commands answer consistently. Kernel-side state (modules, sysctl values, swap, running
# services) is reset by the init at every boot and rebuilt from the persistent configuration
# (/etc/modules-load.d, /etc/sysctl.d, /etc/fstab, enabled units), as a real boot would.

KPLAB_STATE=/var/lib/kp-lab
KPLAB_CALLS_LOG=/var/log/kp-lab/calls.log
KPLAB_RUN=/run/kp-lab

# Sets REPLY to $1 as a JSON string literal.
kplab_json() {
  local s=$1 out='' c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[[:cntrl:]]* ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c == [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  REPLY="\"$s\""
}

# One JSON line per call: time, command, arguments, effective uid, pid.
kplab_log_call() {
  [[ -n ${KPLAB_NO_LOG:-} ]] && return 0
  local name=$1 args='' a ts ms
  shift
  for a in "$@"; do
    kplab_json "$a"
    args+=${args:+,}$REPLY
  done
  TZ=UTC printf -v ts '%(%Y-%m-%dT%H:%M:%S)T' "${EPOCHSECONDS}"
  ms=${EPOCHREALTIME#*.}
  kplab_json "$name"
  printf '{"ts":"%s.%sZ","cmd":%s,"args":[%s],"uid":%d,"pid":%d}\n' "$ts" "${ms:0:3}" "$REPLY" "$args" "$EUID" "$$" \
    >>"$KPLAB_CALLS_LOG" 2>/dev/null || true
}

# Sets REPLY to $1 without leading and trailing white space.
kplab_trim() {
  local s=$1
  s=${s#"${s%%[![:space:]]*}"}
  REPLY=${s%"${s##*[![:space:]]}"}
}

# Mutating calls need root, as the real commands do.
kplab_require_root() {
  if ((EUID != 0)); then
    printf '%s\n' "$1" >&2
    exit "${2:-1}"
  fi
}

# Serialises state changes between concurrent stub calls.
kplab_lock() {
  mkdir -p "$KPLAB_STATE"
  exec {KPLAB_LOCK_FD}>>"$KPLAB_STATE/.lock"
  flock "$KPLAB_LOCK_FD"
}

# --- kernel modules ----------------------------------------------------------------------------

kplab_module_loaded() { [[ -e $KPLAB_STATE/modules/$1 ]]; }

kplab_module_load() {
  mkdir -p "$KPLAB_STATE/modules"
  : >"$KPLAB_STATE/modules/${1//-/_}"
}

kplab_module_unload() { rm -f "$KPLAB_STATE/modules/${1//-/_}"; }

# /proc/modules inside the VM is a bind mount of this file, so lsmod-like readers agree.
kplab_render_modules() {
  local f=$KPLAB_RUN/proc-modules m
  [[ -e $f ]] || return 0
  {
    for m in "$KPLAB_STATE"/modules/*; do
      [[ -e $m ]] || continue
      printf '%s 32768 0 - Live 0x0000000000000000\n' "${m##*/}"
    done
  } >"$f"
}

# --- sysctl ------------------------------------------------------------------------------------

# Sets REPLY to the dotted form of a key given with dots or slashes.
kplab_sysctl_key() {
  local k=${1#/proc/sys/}
  REPLY=${k//\//.}
}

# Whether a key exists: what the kernel has, plus the bridge keys once br_netfilter is "loaded".
kplab_sysctl_exists() {
  if [[ $1 == net.bridge.* ]]; then
    kplab_module_loaded br_netfilter
    return
  fi
  [[ -f /proc/sys/${1//.//} ]]
}

# Sets REPLY to a key's value: the recorded one, else the kernel's (reading is harmless).
kplab_sysctl_get() {
  if [[ -f $KPLAB_STATE/sysctl/$1 ]]; then
    REPLY=$(<"$KPLAB_STATE/sysctl/$1")
  elif [[ $1 == net.bridge.* ]]; then
    REPLY=1
  else
    REPLY=$(<"/proc/sys/${1//.//}")
  fi
}

kplab_sysctl_set() {
  mkdir -p "$KPLAB_STATE/sysctl"
  printf '%s\n' "$2" >"$KPLAB_STATE/sysctl/$1"
}

# --- swap --------------------------------------------------------------------------------------

# Prints the swap devices /etc/fstab names (without noauto), one a line.
kplab_fstab_swaps() {
  [[ -r /etc/fstab ]] || return 0
  awk '$1 !~ /^#/ && $3 == "swap" && $4 !~ /(^|,)noauto(,|$)/ { print $1 }' /etc/fstab
}

kplab_swap_active() {
  [[ -f $KPLAB_STATE/swap.active ]] && grep -qxF -- "$1" "$KPLAB_STATE/swap.active"
}

kplab_swap_on() {
  kplab_swap_active "$1" && return 0
  printf '%s\n' "$1" >>"$KPLAB_STATE/swap.active"
}

kplab_swap_off() {
  [[ -f $KPLAB_STATE/swap.active ]] || return 0
  local rest
  rest=$(grep -vxF -- "$1" "$KPLAB_STATE/swap.active" || true)
  if [[ -n $rest ]]; then printf '%s\n' "$rest" >"$KPLAB_STATE/swap.active"; else rm -f "$KPLAB_STATE/swap.active"; fi
}

# /proc/swaps inside the VM is a bind mount of this file.
kplab_render_swaps() {
  local f=$KPLAB_RUN/proc-swaps s
  [[ -e $f ]] || return 0
  {
    printf 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n'
    if [[ -f $KPLAB_STATE/swap.active ]]; then
      while IFS= read -r s; do
        printf '%-40s%s\t\t%s\t\t%s\t\t%s\n' "$s" file 2097148 0 -2
      done <"$KPLAB_STATE/swap.active"
    fi
  } >"$f"
}

# --- services ----------------------------------------------------------------------------------

KPLAB_UNIT_DIRS=(/etc/systemd/system /run/systemd/system /usr/lib/systemd/system /lib/systemd/system)

# Sets REPLY to a unit name with its type suffix (ssh -> ssh.service).
kplab_unit_name() {
  case $1 in
    *.service | *.socket | *.timer | *.target | *.mount | *.path | *.slice | *.scope | *.device | *.swap | *.automount) REPLY=$1 ;;
    *) REPLY=$1.service ;;
  esac
}

kplab_unit_masked() {
  [[ -L /etc/systemd/system/$1 && $(readlink "/etc/systemd/system/$1") == /dev/null ]]
}

# Sets REPLY to the unit file of a unit, following aliases; fails when there is none.
kplab_unit_file() {
  local u=$1 d f
  if [[ $u == *@*.* && $u != *@.* ]]; then u=${u%%@*}@.${u##*.}; fi
  for d in "${KPLAB_UNIT_DIRS[@]}"; do
    f=$d/$u
    if [[ -L $f ]]; then
      [[ $(readlink "$f") == /dev/null ]] && continue
      REPLY=$(readlink -f "$f")
      [[ -f $REPLY ]] && return 0
    elif [[ -f $f ]]; then
      REPLY=$f
      return 0
    fi
  done
  return 1
}

# Sets REPLY to the canonical name of a unit (an alias resolves to the unit it names).
kplab_unit_canonical() {
  if kplab_unit_file "$1"; then
    REPLY=${REPLY##*/}
    if [[ $1 == *@*.* && $REPLY == *@.* ]]; then REPLY=$1; fi
  else
    REPLY=$1
  fi
}

kplab_is_ssh() { [[ $1 == ssh.service || $1 == sshd.service ]]; }

kplab_sshd_pid() {
  local pid
  [[ -r /run/sshd.pid ]] || return 1
  read -r pid </run/sshd.pid || return 1
  # /proc rather than kill -0: an unprivileged caller may not signal root's sshd.
  [[ -n $pid && -d /proc/$pid ]] && REPLY=$pid
}

kplab_sshd_start() {
  kplab_sshd_pid && return 0
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
  /usr/sbin/sshd -t
  # There is no syslog in a lab VM: sshd logs to a file, so tests can count its connections.
  /usr/sbin/sshd -E /var/log/kp-lab/sshd.log
}

kplab_sshd_stop() {
  local i
  kplab_sshd_pid || return 0
  kill "$REPLY" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$REPLY" 2>/dev/null || break
    sleep 0.1
  done
  rm -f /run/sshd.pid
}

kplab_unit_active() {
  if kplab_is_ssh "$1"; then
    kplab_sshd_pid
    return
  fi
  [[ -e $KPLAB_STATE/services/active/$1 ]]
}

kplab_unit_start() {
  if kplab_is_ssh "$1"; then
    kplab_sshd_start
    return
  fi
  mkdir -p "$KPLAB_STATE/services/active"
  : >"$KPLAB_STATE/services/active/$1"
}

kplab_unit_stop() {
  if kplab_is_ssh "$1"; then
    kplab_sshd_stop
    return
  fi
  rm -f "$KPLAB_STATE/services/active/$1"
}

# Prints the unit names every enabled unit is wanted by at boot (the *.wants/*.requires links).
kplab_enabled_units() {
  local l
  for l in /etc/systemd/system/*.wants/* /etc/systemd/system/*.requires/*; do
    [[ -L $l ]] && printf '%s\n' "${l##*/}"
  done | sort -u
}

# --- power -------------------------------------------------------------------------------------

# Asks the VM's init (PID 1) to reboot or power off, then waits to be stopped with everything
# else, so that the caller's SSH session is cut as on a real machine going down.
kplab_power_request() {
  mkdir -p "$KPLAB_RUN"
  printf '%s\n' "$1" >"$KPLAB_RUN/power"
  kill -USR1 1
  sleep 60
  exit 1
}
