/**
 * playbooks/upgrade/packages.sh in the playbook sandbox (recording apt, dpkg and apt-mark stubs):
 * the named packages to the repository's exact Debian version of the target (the newest revision),
 * unheld around the install and held again; nothing else touched; converged, a second run changes
 * nothing and calls no apt at all.
 */
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {convergeOnce, playbookDir, repoRoot, Sandbox} from '../playbooks/harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox({dir: path.join(repoRoot, 'playbooks', 'upgrade'), helpers: [path.join(playbookDir, 'lib.sh')]})
  for (const p of ['kubeadm', 'kubelet', 'kubectl']) {
    sb.setState(`dpkg/${p}`, '1.30.14-1.1\n')
    sb.setState(`held/${p}`, '')
    sb.setState(`repo/${p}`, '1.31.0-1.1\n1.31.2-1.1\n1.31.2-1.2\n1.31.10-1.1\n')
  }

  sb.setState('dpkg/cri-tools', '1.30.1-1.1\n')
  sb.setState('held/cri-tools', '')
  sb.setState('repo/cri-tools', '1.30.1-1.1\n1.31.0-1.1\n1.31.1-1.1\n')
})
afterEach(() => sb.cleanup())

describe('upgrade/packages.sh', () => {
  it('moves kubeadm to the exact version (newest revision) with cri-tools at its minor\'s newest, unheld around the install and held again', () => {
    // kubeadm X.Y depends on cri-tools X.Y, which node-prepare holds too: apt refuses kubeadm alone.
    expect(convergeOnce(sb, 'packages.sh', ['1.31.2', 'kubeadm'])).toEqual([
      'install kubeadm 1.31.2-1.2 (installed: 1.30.14-1.1)',
      'install cri-tools 1.31.1-1.1 (installed: 1.30.1-1.1)',
    ])
    const calls = sb.calls().filter((c) => c.startsWith('apt-mark unhold') || c.startsWith('apt-get install') || c.startsWith('apt-mark hold'))
    expect(calls).toEqual([
      'apt-mark unhold kubeadm cri-tools',
      'apt-get install -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60 -y -o Dpkg::Options::=--force-confold --allow-change-held-packages kubeadm=1.31.2-1.2 cri-tools=1.31.1-1.1',
      'apt-mark hold kubeadm cri-tools',
    ])
    expect(sb.read('../state/dpkg/kubelet')).toBe('1.30.14-1.1\n')
    expect(sb.read('../state/dpkg/cri-tools')).toBe('1.31.1-1.1\n')
  })

  it('moves kubelet and kubectl together', () => {
    expect(convergeOnce(sb, 'packages.sh', ['1.31.2', 'kubelet', 'kubectl'])).toEqual([
      'install kubelet 1.31.2-1.2 (installed: 1.30.14-1.1)',
      'install kubectl 1.31.2-1.2 (installed: 1.30.14-1.1)',
    ])
  })

  it('refreshes the package lists once, then names a version the repository does not have', () => {
    const r = sb.run('packages.sh', ['apply', '1.31.3', 'kubeadm'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('the package repository has no kubeadm 1.31.3-*')
    expect(sb.calls().filter((c) => c.startsWith('apt-get update'))).toHaveLength(1)
    expect(sb.calls().some((c) => c.startsWith('apt-get install'))).toBe(false)
  })

  it('refuses a package kubeadm does not upgrade', () => {
    expect(sb.run('packages.sh', ['apply', '1.31.2', 'containerd'])).toMatchObject({code: 2})
  })
})
