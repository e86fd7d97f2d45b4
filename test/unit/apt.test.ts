/** src/lib/apt.ts: apt-get -s output, pending.sh's report, the Kubernetes packages, the reboot rule. */
import {describe, expect, it} from 'vitest'

import {describeChanges, kubernetesDrift, kubernetesTouched, parseNodePackages, parseSimulation, wantsReboot} from '../../src/lib/apt.js'

// apt-get -s upgrade on Debian 12, as apt 2.6 prints it (one held package kept back).
const UPGRADE = `NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages have been kept back:
  kubelet
The following packages will be upgraded:
  libssl3 linux-image-kplab openssl
3 upgraded, 0 newly installed, 0 to remove and 1 not upgraded.
Inst libssl3 [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.15-1~deb12u1] (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64]) []
Inst linux-image-kplab [1.0] (1.1 kplab:lab [all])
Conf libssl3 (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf openssl (3.0.16-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf linux-image-kplab (1.1 kplab:lab [all])
`

// apt-get -s dist-upgrade that would move held packages and remove one.
const DIST = `Reading package lists...
Calculating upgrade...
The following packages will be REMOVED:
  kubernetes-cni
The following NEW packages will be installed:
  linux-image-6.1.0-29-amd64
The following held packages will be changed:
  kubelet kubeadm
The following packages will be upgraded:
  kubelet kubeadm
Remv kubernetes-cni [1.5.1-1.1]
Inst linux-image-6.1.0-29-amd64 (6.1.123-1 Debian-Security:12/stable-security [amd64])
Inst kubelet [1.31.8-1.1] (1.31.9-1.1 isv:kubernetes:core:stable:v1.31:pkgs.k8s.io [amd64])
Inst kubeadm [1.31.8-1.1] (1.31.9-1.1 isv:kubernetes:core:stable:v1.31:pkgs.k8s.io [amd64])
`

describe('parseSimulation', () => {
  it('reads the upgrades, their versions and the packages kept back', () => {
    const sim = parseSimulation(UPGRADE)
    expect(sim.changes).toEqual([
      {from: '3.0.15-1~deb12u1', name: 'libssl3', to: '3.0.16-1~deb12u1'},
      {from: '3.0.15-1~deb12u1', name: 'openssl', to: '3.0.16-1~deb12u1'},
      {from: '1.0', name: 'linux-image-kplab', to: '1.1'},
    ])
    expect(sim.keptBack).toEqual(['kubelet'])
    expect(sim.removed).toEqual([])
    expect(sim.heldChanged).toEqual([])
    // A held package kept back is not touched: nothing to refuse.
    expect(kubernetesTouched(sim)).toEqual([])
    expect(describeChanges(sim)).toEqual([
      'upgrade libssl3 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1',
      'upgrade openssl 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1',
      'upgrade linux-image-kplab 1.0 → 1.1',
    ])
  })

  it('names the Kubernetes packages a dist-upgrade would change or remove, new packages as installs', () => {
    const sim = parseSimulation(DIST)
    expect(sim.heldChanged).toEqual(['kubelet', 'kubeadm'])
    expect(sim.removed).toEqual(['kubernetes-cni'])
    expect(kubernetesTouched(sim)).toEqual(['kubeadm', 'kubelet', 'kubernetes-cni'])
    expect(describeChanges(sim)[0]).toBe('install linux-image-6.1.0-29-amd64 6.1.123-1')
  })

  it('finds nothing in an up-to-date node', () => {
    const sim = parseSimulation('Reading package lists...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n')
    expect(sim).toEqual({changes: [], heldChanged: [], keptBack: [], removed: []})
  })
})

describe('parseNodePackages', () => {
  const report = (head: string, sim = UPGRADE) => `${head}\n--- apt-get -s\n${sim}`

  it('reads the reboot-required files, holds, Kubernetes versions and dpkg state', () => {
    const parsed = parseNodePackages(
      report(
        'boot-id=0b1c\nreboot-required=1\nreboot-pkgs=linux-image-kplab \nheld=cri-tools kubeadm kubectl kubelet \n' +
          'kube=kubeadm=1.31.8-1.1\nkube=kubelet=1.31.8-1.1\ndpkg-interrupted=0\nsimulate-exit=0',
      ),
    )
    expect(parsed).toMatchObject({
      bootId: '0b1c',
      dpkgInterrupted: false,
      held: ['cri-tools', 'kubeadm', 'kubectl', 'kubelet'],
      kubernetes: {kubeadm: '1.31.8-1.1', kubelet: '1.31.8-1.1'},
      rebootPackages: ['linux-image-kplab'],
      rebootRequired: true,
      simulateExit: 0,
    })
    expect(parsed.simulation.changes).toHaveLength(3)
  })

  it('keeps apt error lines when the simulation failed', () => {
    const parsed = parseNodePackages(report('boot-id=1\nreboot-required=0\nreboot-pkgs=\nheld=\ndpkg-interrupted=1\nsimulate-exit=100', 'E: dpkg was interrupted, you must manually run \'dpkg --configure -a\' to correct the problem.\n'))
    expect(parsed.rebootRequired).toBe(false)
    expect(parsed.rebootPackages).toEqual([])
    expect(parsed.dpkgInterrupted).toBe(true)
    expect(parsed.simulateErrors).toEqual(["E: dpkg was interrupted, you must manually run 'dpkg --configure -a' to correct the problem."])
  })

  it('refuses output that is not a report', () => {
    expect(() => parseNodePackages('sudo: a password is required')).toThrow(/not a pending.sh report/)
  })
})

describe('the Kubernetes packages after the upgrade', () => {
  const before = {held: ['kubeadm', 'kubelet'], kubernetes: {kubeadm: '1.31.8-1.1', kubelet: '1.31.8-1.1'}}

  it('finds no drift when versions and holds are the same', () => {
    expect(kubernetesDrift(before, {held: ['kubelet', 'kubeadm', 'cri-tools'], kubernetes: {...before.kubernetes}})).toEqual([])
  })

  it('names a moved version and a lost hold', () => {
    expect(kubernetesDrift(before, {held: ['kubeadm'], kubernetes: {kubeadm: '1.31.8-1.1', kubelet: '1.31.9-1.1'}})).toEqual(['kubelet 1.31.8-1.1 → 1.31.9-1.1', 'kubelet is no longer held'])
  })
})

describe('wantsReboot', () => {
  it.each([
    ['if-required', true, false, true],
    ['if-required', false, true, false],
    ['always', false, true, true],
    ['always', false, false, false],
    ['never', true, true, false],
  ] as const)('%s with reboot-required %s and upgraded %s: %s', (policy, required, upgraded, expected) => {
    expect(wantsReboot(policy, required, upgraded)).toBe(expected)
  })
})
