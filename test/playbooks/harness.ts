/**
 * Runs a node-prepare playbook the way kp does (`bash -s -- MODE ARGS…`, the script on stdin) in
 * a sandbox: KP_ROOT is a temp directory holding the node's files, and PATH starts with recording
 * stubs of the commands that would touch the kernel, systemd or apt. The stubs keep small state
 * files so that reads answer what earlier writes did (swapoff empties `swapon --show`, modprobe
 * fills lsmod, apt-get install changes dpkg-query…), and append each call to calls.log.
 */
import {type SpawnSyncReturns, spawnSync} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {expect} from 'vitest'

const here = path.dirname(fileURLToPath(import.meta.url))
export const repoRoot = path.resolve(here, '../..')
export const playbookDir = path.join(repoRoot, 'playbooks', 'node-prepare')
export const fixture = (name: string) => path.join(here, 'fixtures', name)

export interface RunResult {
  code: number
  stderr: string
  stdout: string
  /** stdout split into lines, without the empty last one. */
  lines: string[]
}

// Every stub starts by logging its argv (one line: name and arguments joined by spaces).
const PRELUDE = `#!/usr/bin/env bash
set -euo pipefail
S=$KP_STUB_STATE
printf '%s\\n' "\${0##*/}\${*:+ $*}" >>"$S/calls.log"
`

const STUBS: Record<string, string> = {
  swapon: `[[ "$*" == "--show --noheadings" ]] || { echo "swapon stub: unexpected $*" >&2; exit 1; }
[[ -f $S/swap ]] && cat "$S/swap"
exit 0`,
  swapoff: `[[ "$*" == "-a" ]] || exit 1
rm -f "$S/swap"`,
  lsmod: `printf 'Module                  Size  Used by\\n'
for m in "$S"/modules/*; do [[ -e $m ]] && printf '%-19s %8s  0\\n' "\${m##*/}" 16384; done
exit 0`,
  modprobe: `m=\${*: -1}
mkdir -p "$S/modules" && : >"$S/modules/$m"`,
  // Values of keys nobody set are 0; the net.bridge keys exist only once br_netfilter is loaded.
  sysctl: `get() {
  if [[ $1 == net.bridge.* && ! -e $S/modules/br_netfilter ]]; then
    echo "sysctl: cannot stat /proc/sys/\${1//.//}: No such file or directory" >&2; return 255
  fi
  cat "$S/sysctl/$1" 2>/dev/null || echo 0
}
case $1 in
  -n) get "$2" ;;
  --system)
    mkdir -p "$S/sysctl"
    for f in "$KP_ROOT"/etc/sysctl.d/*.conf; do
      [[ -f $f ]] || continue
      echo "* Applying \${f#"$KP_ROOT"} ..."
      while IFS='=' read -r k v; do
        k=\${k//[[:space:]]/}; v=\${v//[[:space:]]/}
        [[ -z $k || $k == '#'* ]] && continue
        get "$k" >/dev/null || exit 255
        echo "$v" >"$S/sysctl/$k"; echo "$k = $v"
      done <"$f"
    done ;;
  *) echo "sysctl stub: unexpected $*" >&2; exit 1 ;;
esac`,
  systemctl: `quiet=0; args=()
for a in "$@"; do case $a in -q | --quiet) quiet=1 ;; *) args+=("$a") ;; esac; done
verb=\${args[0]}; unit=\${args[1]%.service}
mkdir -p "$S/units/enabled" "$S/units/active"
case $verb in
  is-enabled) if [[ -e $S/units/enabled/$unit ]]; then ((quiet)) || echo enabled; else ((quiet)) || echo disabled; exit 1; fi ;;
  is-active) if [[ -e $S/units/active/$unit ]]; then ((quiet)) || echo active; else ((quiet)) || echo inactive; exit 3; fi ;;
  enable) : >"$S/units/enabled/$unit"; echo "Created symlink /etc/systemd/system/multi-user.target.wants/$unit.service." >&2 ;;
  start | restart) : >"$S/units/active/$unit" ;;
  *) echo "systemctl stub: unexpected $*" >&2; exit 1 ;;
esac`,
  containerd: `[[ "$*" == "config default" ]] || exit 1
cat "$KP_STUB_FIXTURES/containerd-config-default-1.6.20.toml"`,
  'dpkg-query': `fmt=''; pkg=''
for a in "$@"; do case $a in -f=* | --showformat=*) fmt=\${a#*=} ;; -*) ;; *) pkg=$a ;; esac; done
if [[ ! -f $S/dpkg/$pkg ]]; then echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; fi
# dpkg reports a held package's selection as "hold": "hold ok installed".
want=install; [[ -e $S/held/$pkg ]] && want=hold
out=\${fmt//'\${Status}'/$want ok installed}
printf '%s' "\${out//'\${Version}'/$(<"$S/dpkg/$pkg")}"`,
  dpkg: `[[ "$*" == "--print-architecture" ]] && echo amd64`,
  // No apt or dpkg of an earlier run is still busy on the sandboxed node (the host's own
  // processes, lab VMs' included, must not count).
  pgrep: `exit 1`,
  'apt-mark': `case $1 in
  showhold) for h in "$S"/held/*; do [[ -e $h ]] && echo "\${h##*/}"; done; exit 0 ;;
  hold) shift; mkdir -p "$S/held"; for p in "$@"; do : >"$S/held/$p"; echo "$p set on hold."; done ;;
  unhold) shift; for p in "$@"; do rm -f "$S/held/$p"; echo "Canceled hold on $p."; done ;;
  *) exit 1 ;;
esac`,
  // The package lists ($S/repo/<pkg>: versions, one a line) are what apt-get update last fetched
  // from the repositories ($S/upstream/<pkg>).
  'apt-cache': `pkg=$2
case $1 in
  madison) [[ -f $S/repo/$pkg ]] && while read -r v; do printf '%10s | %s | https://pkgs.k8s.io/core:/stable:/v1.31/deb  Packages\\n' "$pkg" "$v"; done <"$S/repo/$pkg"; exit 0 ;;
  policy) printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n' "$pkg" "$( [[ -f $S/repo/$pkg ]] && sort -V "$S/repo/$pkg" | tail -n1 || echo '(none)')" ;;
  *) exit 1 ;;
esac`,
  'apt-get': `[[ \${DEBIAN_FRONTEND:-} == noninteractive ]] || { echo "apt-get stub: DEBIAN_FRONTEND is not noninteractive" >&2; exit 1; }
case $1 in
  update) mkdir -p "$S/repo"; cp -r "$S/upstream/." "$S/repo/" 2>/dev/null || true; echo "Reading package lists... Done" ;;
  install)
    shift; allow_held=0; pkgs=()
    while (($#)); do
      case $1 in -o) shift ;; --allow-change-held-packages) allow_held=1 ;; -*) ;; *) pkgs+=("$1") ;; esac
      shift
    done
    for p in "\${pkgs[@]}"; do
      name=\${p%%=*}; ver=\${p#*=}
      [[ $p == *=* ]] || ver=$(sort -V "$S/repo/$name" 2>/dev/null | tail -n1)
      grep -qxF -- "$ver" "$S/repo/$name" 2>/dev/null || { echo "E: Version '$ver' for '$name' was not found" >&2; exit 100; }
      if [[ -e $S/held/$name ]] && ((!allow_held)); then echo "E: Held packages were changed and -y was used without --allow-change-held-packages." >&2; exit 100; fi
    done
    mkdir -p "$S/dpkg"
    for p in "\${pkgs[@]}"; do
      name=\${p%%=*}; ver=\${p#*=}
      [[ $p == *=* ]] || ver=$(sort -V "$S/repo/$name" | tail -n1)
      echo "$ver" >"$S/dpkg/$name"; echo "Setting up $name ($ver) ..."
      # Debian's maintainer scripts enable and start a service they install.
      if [[ $name == containerd ]]; then mkdir -p "$S/units/enabled" "$S/units/active"; : >"$S/units/enabled/containerd"; : >"$S/units/active/containerd"; fi
    done ;;
  *) exit 1 ;;
esac`,
  curl: `cat "$S/release.key"`,
  // Not a real gpg. --show-keys lists one primary key (with a sub key) per armored block, whose
  // fingerprint is stubFingerprint(block); --dearmor writes a marker plus the armored body, enough
  // to tell two keys apart.
  gpg: `if [[ " $* " == *" --show-keys "* ]]; then
  bodies=$(awk '/^-----BEGIN/ { body = ""; inkey = 1; next } /^-----END/ { if (inkey) print body; inkey = 0; next } inkey { body = body $0 }' "\${*: -1}")
  [[ -n $bodies ]] || { echo "gpg: no valid OpenPGP data found." >&2; exit 2; }
  while read -r body; do
    fpr=$(printf '%s' "$body" | sha1sum | cut -c1-40 | tr a-f A-F)
    sub=$(printf 'sub:%s' "$body" | sha1sum | cut -c1-40 | tr a-f A-F)
    printf 'pub:-:3072:1:%s:1700000000:::-:::scSC:::::::0:\\nfpr:::::::::%s:\\nuid:-::::1700000000::0::stub <stub@kp.invalid>::::::::::0:\\n' "\${fpr: -16}" "$fpr"
    printf 'sub:-:3072:1:%s:1700000000::::::s:::::::0:\\nfpr:::::::::%s:\\n' "\${sub: -16}" "$sub"
  done <<<"$bodies"
  exit 0
fi
printf 'dearmored:'; grep -v -e '^-----' -e '^$' | tr -d '\\n'`,
  hostname: `if (($#)); then echo "$1" >"$S/hostname"; else cat "$S/hostname"; fi`,
  nproc: `echo 4`,
}

/** The fingerprint the gpg stub gives an armored key: the SHA-1 of its body, upper-case hex. */
export function stubFingerprint(armored: string): string {
  const body = armored.split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('')
  return createHash('sha1').update(body).digest('hex').toUpperCase()
}

function toResult(result: SpawnSyncReturns<string>): RunResult {
  const lines = result.stdout.split('\n')
  if (lines.at(-1) === '') lines.pop()
  return {code: result.status ?? -1, lines, stderr: result.stderr, stdout: result.stdout}
}

export class Sandbox {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'kp-playbook-'))
  readonly root = path.join(this.dir, 'root')
  readonly state = path.join(this.dir, 'state')
  private readonly bin = path.join(this.dir, 'bin')

  /** `helpers` are sent ahead of each playbook of `dir`, as kp does (node-patch: node-prepare's lib.sh, then its lock.sh). */
  constructor(private readonly folder: {dir: string; helpers: string[]} = {dir: playbookDir, helpers: [path.join(playbookDir, 'lib.sh')]}) {
    for (const d of [this.root, this.state, this.bin]) mkdirSync(d, {recursive: true})
    for (const [name, body] of Object.entries(STUBS)) {
      writeFileSync(path.join(this.bin, name), `${PRELUDE}${body}\n`)
      chmodSync(path.join(this.bin, name), 0o755)
    }
    this.setState('hostname', 'debian')
    this.setState('release.key', readFileSync(fixture('release-key.asc'), 'utf8'))
  }

  /** Runs `bash -s -- ARGS…` with lib.sh and the playbook on stdin, as kp does over SSH. */
  run(script: string, args: string[] = []): RunResult {
    const result = spawnSync('bash', ['-s', '--', ...args], {
      encoding: 'utf8',
      env: this.env(),
      input: [...this.folder.helpers, path.join(this.folder.dir, script)].map((file) => readFileSync(file, 'utf8')).join('\n'),
    })
    return toResult(result)
  }

  /** Runs the playbook file itself (`bash FILE ARGS…`), for a mode that reads its own stdin. */
  runWithInput(script: string, args: string[], input: string): RunResult {
    return toResult(spawnSync('bash', [path.join(this.folder.dir, script), ...args], {encoding: 'utf8', env: this.env(), input}))
  }

  /** Replaces (or adds) a recording stub: BODY runs after the prelude that logs the call. */
  stub(name: string, body: string): void {
    writeFileSync(path.join(this.bin, name), `${PRELUDE}${body}\n`)
    chmodSync(path.join(this.bin, name), 0o755)
  }

  private env(): NodeJS.ProcessEnv {
    return {
      KP_ROOT: this.root,
      KP_STUB_FIXTURES: path.join(here, 'fixtures'),
      KP_STUB_STATE: this.state,
      LC_ALL: 'C',
      PATH: `${this.bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    }
  }

  /** The stub calls so far, one "name arg…" string each; clearing them starts a new count. */
  calls(): string[] {
    const log = path.join(this.state, 'calls.log')
    return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []
  }

  clearCalls(): void {
    rmSync(path.join(this.state, 'calls.log'), {force: true})
  }

  /** A file of the node, under KP_ROOT. */
  file(nodePath: string): string {
    return path.join(this.root, nodePath)
  }

  read(nodePath: string): string {
    return readFileSync(this.file(nodePath), 'utf8')
  }

  write(nodePath: string, content: string): void {
    mkdirSync(path.dirname(this.file(nodePath)), {recursive: true})
    writeFileSync(this.file(nodePath), content)
  }

  /** A stub state file (see STUBS for the layout): e.g. setState('swap', '/swapfile file 2G 0B -2\n'). */
  setState(name: string, content: string): void {
    mkdirSync(path.dirname(path.join(this.state, name)), {recursive: true})
    writeFileSync(path.join(this.state, name), content)
  }

  hasState(name: string): boolean {
    return existsSync(path.join(this.state, name))
  }

  readState(name: string): string {
    return readFileSync(path.join(this.state, name), 'utf8')
  }

  cleanup(): void {
    rmSync(this.dir, {force: true, recursive: true})
  }
}

/** Compares with test/playbooks/golden/NAME; UPDATE_GOLDEN=1 rewrites the file instead. */
export function golden(name: string): string {
  return path.join(here, 'golden', name)
}

export function expectedGolden(name: string, actual: string): string {
  const file = golden(name)
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(path.dirname(file), {recursive: true})
    writeFileSync(file, actual)
  }

  if (!existsSync(file)) throw new Error(`golden file ${name} is missing: run with UPDATE_GOLDEN=1 and review it`)
  return readFileSync(file, 'utf8')
}

/**
 * The contract every check|apply playbook keeps: check exits 10 and says what apply then does
 * (the same lines, prefixed "would "), apply ends with KP_CHANGED=1, and a second apply and check
 * find nothing to do. Returns the first apply's change lines.
 */
export function convergeOnce(sandbox: Sandbox, script: string, args: string[] = []): string[] {
  const before = sandbox.run(script, ['check', ...args])
  const applied = sandbox.run(script, ['apply', ...args])
  const again = sandbox.run(script, ['apply', ...args])
  const after = sandbox.run(script, ['check', ...args])
  const changes = applied.lines.slice(0, -1)
  expectResult(before, 10, changes.map((l) => `would ${l}`))
  expectResult(applied, 0, [...changes, 'KP_CHANGED=1'])
  expectResult(again, 0, ['KP_CHANGED=0'])
  expectResult(after, 0, [])
  return changes
}

function expectResult(result: RunResult, code: number, lines: string[]): void {
  expect({code: result.code, lines: result.lines}, `stderr: ${result.stderr}`).toEqual({code, lines})
}
