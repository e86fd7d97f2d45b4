/**
 * playbooks/node-patch: pending.sh (what the node needs, parsed by src/lib/apt.ts) and upgrade.sh
 * (the upgrade itself: non-interactive, interrupted dpkg first, a held lock named, the Kubernetes
 * packages checked after), against recording stubs of apt-get, dpkg and dpkg-query.
 */
import {statSync} from 'node:fs'
import path from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {parseNodePackages} from '../../src/lib/apt.js'
import {playbookDir, repoRoot, Sandbox} from './harness.js'

const dir = path.join(repoRoot, 'playbooks', 'node-patch')
const folder = {dir, helpers: [path.join(playbookDir, 'lib.sh'), path.join(dir, 'lock.sh')]}

// apt-get: -s prints one Inst line per $S/upstream/<pkg> newer than $S/dpkg/<pkg>; -y upgrade installs
// them (kubelet too when $S/move-kubelet exists, as a broken hold would); $S/lock-message fails it like apt.
const APT_GET = `[[ \${DEBIAN_FRONTEND:-} == noninteractive ]] || { echo "apt-get stub: DEBIAN_FRONTEND is not noninteractive" >&2; exit 1; }
sim=0; yes=0; verb=''
while (($#)); do case $1 in -s) sim=1 ;; -y) yes=1 ;; -o) shift ;; update|upgrade|dist-upgrade) verb=$1 ;; esac; shift; done
[[ $verb == update ]] && { echo "Reading package lists... Done"; exit 0; }
[[ -e $S/dpkg-interrupted ]] && { echo "E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem." >&2; exit 100; }
pending() { for f in "$S"/upstream/*; do [[ -e $f ]] || continue; p=\${f##*/}; [[ -e $S/held/$p && ! -e $S/move-kubelet ]] && continue
  [[ "$(cat "$S/dpkg/$p" 2>/dev/null)" == "$(cat "$f")" ]] || echo "$p"; done; }
if ((sim)); then
  echo "Calculating upgrade..."
  for p in $(pending); do if [[ -f $S/dpkg/$p ]]; then echo "Inst $p [$(cat "$S/dpkg/$p")] ($(cat "$S/upstream/$p") stub [amd64])"; else echo "Inst $p ($(cat "$S/upstream/$p") stub [amd64])"; fi; done
  exit 0
fi
((yes)) || exit 1
[[ -f $S/lock-message ]] && { cat "$S/lock-message" >&2; exit 100; }
for p in $(pending); do cp "$S/upstream/$p" "$S/dpkg/$p"; echo "Setting up $p ($(cat "$S/upstream/$p")) ..."; done`

const DPKG = `case "$*" in
  --audit) [[ -e $S/dpkg-interrupted ]] && echo "The following packages are only half configured:"; exit 0 ;;
  *--configure\\ -a) rm -f "$S/dpkg-interrupted" ;;
  *) exit 1 ;;
esac`

// With no package named, -W lists every installed one with the format given.
const DPKG_QUERY = `fmt=''; pkg=''
for a in "$@"; do case $a in -f=* | --showformat=*) fmt=\${a#*=} ;; -*) ;; *) pkg=$a ;; esac; done
one() { local want=install; [[ -e $S/held/$1 ]] && want=hold; local out=\${fmt//'\${Status}'/$want ok installed}; out=\${out//'\${db:Status-Abbrev}'/\${want:0:1}i }
  out=\${out//'\${Package}'/$1}; printf '%b' "\${out//'\${Version}'/$(<"$S/dpkg/$1")}"; }
if [[ -n $pkg ]]; then [[ -f $S/dpkg/$pkg ]] || exit 1; one "$pkg"; exit 0; fi
for f in "$S"/dpkg/*; do one "\${f##*/}"; done`

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox(folder)
  sb.stub('apt-get', APT_GET)
  sb.stub('dpkg', DPKG)
  sb.stub('dpkg-query', DPKG_QUERY)
  sb.write('proc/sys/kernel/random/boot_id', 'b00t-1\n')
  sb.write('proc/locks', '')
  sb.write('var/lib/dpkg/lock-frontend', '')
  for (const [pkg, version] of [['kubelet', '1.31.8-1.1'], ['kubeadm', '1.31.8-1.1'], ['libssl3', '3.0.15-1'], ['linux-image-kplab', '1.0']]) sb.setState(`dpkg/${pkg}`, `${version}\n`)
  for (const pkg of ['kubelet', 'kubeadm']) sb.setState(`held/${pkg}`, '')
  // The repository offers newer libssl3 and kernel, and a newer kubelet (held: kept back).
  for (const [pkg, version] of [['libssl3', '3.0.16-1'], ['linux-image-kplab', '1.1'], ['kubelet', '1.31.9-1.1'], ['kubeadm', '1.31.8-1.1']]) sb.setState(`upstream/${pkg}`, `${version}\n`)
})
afterEach(() => sb.cleanup())

describe('pending.sh', () => {
  it('reports what the node needs in the form kp parses', () => {
    sb.write('var/run/reboot-required', '*** System restart required ***\n')
    sb.write('var/run/reboot-required.pkgs', 'linux-image-kplab\nlinux-image-kplab\n')
    const result = sb.run('pending.sh', ['upgrade', 'update'])

    expect(result.code, result.stderr).toBe(0)
    const report = parseNodePackages(result.stdout)
    expect(report).toMatchObject({
      bootId: 'b00t-1',
      dpkgInterrupted: false,
      held: ['kubeadm', 'kubelet'],
      kubernetes: {kubeadm: '1.31.8-1.1', kubelet: '1.31.8-1.1'},
      rebootPackages: ['linux-image-kplab'],
      rebootRequired: true,
      simulateExit: 0,
    })
    expect(report.simulation.changes.map((c) => `${c.name} ${c.from} ${c.to}`)).toEqual(['libssl3 3.0.15-1 3.0.16-1', 'linux-image-kplab 1.0 1.1'])
    expect(sb.calls()).toContain('apt-get update -o Acquire::Retries=3 -o Acquire::http::Timeout=60')
  })

  it('skips apt-get update when told, and says when dpkg was interrupted', () => {
    sb.setState('dpkg-interrupted', '')
    const report = parseNodePackages(sb.run('pending.sh', ['upgrade', 'no-update']).stdout)
    expect(report.dpkgInterrupted).toBe(true)
    expect(report.rebootRequired).toBe(false)
    expect(report.simulateExit).toBe(100)
    expect(sb.calls().some((c) => c.startsWith('apt-get update'))).toBe(false)
  })

  it('refuses bad arguments', () => {
    expect(sb.run('pending.sh', ['full-upgrade', 'update']).code).toBe(2)
  })
})

describe('upgrade.sh', () => {
  it('upgrades without questions, keeping changed configuration files, and reports each package; then has nothing to do', () => {
    const check = sb.run('upgrade.sh', ['check', 'upgrade', '30'])
    expect({code: check.code, lines: check.lines}).toEqual({code: 10, lines: ['would upgrade libssl3 3.0.15-1 -> 3.0.16-1', 'would upgrade linux-image-kplab 1.0 -> 1.1']})
    const applied = sb.run('upgrade.sh', ['apply', 'upgrade', '30'])

    expect(applied.lines, applied.stderr).toEqual(['upgrade libssl3 3.0.15-1 -> 3.0.16-1', 'upgrade linux-image-kplab 1.0 -> 1.1', 'KP_CHANGED=1'])
    expect(sb.calls()).toContain('apt-get -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o DPkg::Lock::Timeout=30 upgrade')
    expect(sb.readState('dpkg/kubelet')).toBe('1.31.8-1.1\n')
    expect(sb.run('upgrade.sh', ['apply', 'upgrade', '30']).lines).toEqual(['KP_CHANGED=0'])
    expect(sb.run('upgrade.sh', ['check', 'upgrade', '30']).code).toBe(0)
  })

  it('finishes what an interrupted dpkg left before upgrading', () => {
    sb.setState('dpkg-interrupted', '')
    const applied = sb.run('upgrade.sh', ['apply', 'upgrade', '30'])

    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.lines[0]).toBe('finish what an interrupted dpkg left (dpkg --configure -a)')
    const calls = sb.calls()
    expect(calls.indexOf('dpkg --force-confdef --force-confold --configure -a')).toBeLessThan(calls.findIndex((c) => c.startsWith('apt-get -y')))
  })

  it('names the process holding the dpkg lock, and upgrades nothing', () => {
    const inode = statSync(sb.file('var/lib/dpkg/lock-frontend')).ino
    sb.write('proc/locks', `1: POSIX  ADVISORY  WRITE 812 00:2a:${inode} 0 EOF\n`)
    sb.write('proc/812/comm', 'unattended-upgr\n')
    const applied = sb.run('upgrade.sh', ['apply', 'upgrade', '0'])

    expect(applied.code).toBe(2)
    expect(applied.stderr).toContain('the dpkg lock /var/lib/dpkg/lock-frontend is held by process 812 (unattended-upgr) for more than 0s')
    expect(sb.calls().some((c) => c.startsWith('apt-get -y'))).toBe(false)
    expect(sb.readState('dpkg/libssl3')).toBe('3.0.15-1\n')
  })

  it("names the holder apt reports when the lock is taken between kp's look and apt's", () => {
    sb.setState('lock-message', 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n')
    const applied = sb.run('upgrade.sh', ['apply', 'upgrade', '5'])
    expect(applied.code).toBe(2)
    expect(applied.stderr).toContain('could not get the dpkg lock within 5s: it is held by process 4242 (apt-get)')
  })

  it('fails naming the Kubernetes package that moved', () => {
    sb.setState('move-kubelet', '')
    const applied = sb.run('upgrade.sh', ['apply', 'upgrade', '30'])
    expect(applied.code).toBe(2)
    expect(applied.stderr).toMatch(/the Kubernetes packages changed: before \[kubeadm 1.31.8-1.1 hold; kubelet 1.31.8-1.1 hold\], after \[.*kubelet 1.31.9-1.1 hold\]/)
  })
})
