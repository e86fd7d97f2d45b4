/** k8s-repo.sh and k8s-packages.sh: the Kubernetes apt repository and the pinned, held packages. */
import {chmodSync, statSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox, convergeOnce, expectedGolden} from './harness.js'

const REPO = 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/'
const KEY = `${REPO}Release.key`
const KEYRING = 'etc/apt/keyrings/kubernetes-apt-keyring.gpg'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => sb.cleanup())

const mode = (nodePath: string) => (statSync(sb.file(nodePath)).mode & 0o777).toString(8)

describe('k8s-repo.sh', () => {
  it('adds the keyring and the list, then updates the package lists once', () => {
    const changes = convergeOnce(sb, 'k8s-repo.sh', [REPO, KEY])

    expect(changes).toEqual([
      'create /etc/apt/keyrings (0755)',
      `write /etc/apt/keyrings/kubernetes-apt-keyring.gpg from ${KEY}`,
      'write /etc/apt/sources.list.d/kubernetes.list',
      'update the package lists (apt-get update)',
    ])
    const list = sb.read('etc/apt/sources.list.d/kubernetes.list')
    expect(list).toBe(expectedGolden('kubernetes.list', list))
    expect(sb.read(KEYRING)).toMatch(/^dearmored:/)
    expect([mode('etc/apt/keyrings'), mode(KEYRING)]).toEqual(['755', '644'])
    expect(sb.calls().filter((c) => c.startsWith('apt-get'))).toEqual(['apt-get update -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60'])
    expect(sb.calls()).toContain(`curl -fsSL ${KEY}`)
  })

  it('replaces the list of another minor and keeps an unchanged key', () => {
    convergeOnce(sb, 'k8s-repo.sh', [REPO, KEY])
    sb.clearCalls()
    const next = REPO.replace('v1.31', 'v1.32')

    const result = sb.run('k8s-repo.sh', ['apply', next, `${next}Release.key`])

    expect(result.lines).toEqual(['write /etc/apt/sources.list.d/kubernetes.list', 'update the package lists (apt-get update)', 'KP_CHANGED=1'])
    expect(sb.read('etc/apt/sources.list.d/kubernetes.list')).toContain('/v1.32/deb/ /')
  })

  it('fixes the keyring mode without updating the package lists', () => {
    convergeOnce(sb, 'k8s-repo.sh', [REPO, KEY])
    chmodSync(sb.file(KEYRING), 0o600)

    expect(sb.run('k8s-repo.sh', ['apply', REPO, KEY]).lines).toEqual(['chmod 0644 /etc/apt/keyrings/kubernetes-apt-keyring.gpg', 'KP_CHANGED=1'])
    expect(mode(KEYRING)).toBe('644')
  })

  it('replaces a keyring whose key changed upstream', () => {
    convergeOnce(sb, 'k8s-repo.sh', [REPO, KEY])
    sb.setState('release.key', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nrotated\n-----END PGP PUBLIC KEY BLOCK-----\n')

    expect(sb.run('k8s-repo.sh', ['check', REPO, KEY]).lines).toEqual([
      `would write /etc/apt/keyrings/kubernetes-apt-keyring.gpg from ${KEY}`,
      'would update the package lists (apt-get update)',
    ])
    sb.run('k8s-repo.sh', ['apply', REPO, KEY])
    expect(sb.read(KEYRING)).toBe('dearmored:rotated')
  })

  it('refuses a repository URL that is not http(s) or does not end in /', () => {
    for (const bad of ['ftp://x/', 'https://pkgs.k8s.io/core:/stable:/v1.31/deb', 'https://x/ y/']) {
      const result = sb.run('k8s-repo.sh', ['check', bad, KEY])
      expect(result.code, bad).toBe(2)
      expect(result.stderr).toContain('REPO_URL must be')
    }
  })
})

describe('k8s-packages.sh', () => {
  const VERSION = '1.31.8'

  beforeEach(() => {
    sb.setState('repo/kubelet', '1.31.7-1.1\n1.31.8-1.1\n1.31.9-1.1\n')
    sb.setState('repo/kubeadm', '1.31.7-1.1\n1.31.8-1.1\n1.31.9-1.1\n')
    sb.setState('repo/kubectl', '1.31.7-1.1\n1.31.8-1.1\n1.31.9-1.1\n')
    sb.setState('repo/cri-tools', '1.31.0-1.1\n1.31.1-1.1\n')
  })

  it('installs the exact version and the newest cri-tools of the minor, then holds all four', () => {
    const changes = convergeOnce(sb, 'k8s-packages.sh', [VERSION])

    expect(changes).toEqual([
      'install kubelet 1.31.8-1.1 (installed: none)',
      'install kubeadm 1.31.8-1.1 (installed: none)',
      'install kubectl 1.31.8-1.1 (installed: none)',
      'install cri-tools 1.31.1-1.1 (installed: none)',
      'hold package kubelet',
      'hold package kubeadm',
      'hold package kubectl',
      'hold package cri-tools',
    ])
    const installs = sb.calls().filter((c) => c.startsWith('apt-get install'))
    expect(installs).toEqual([
      'apt-get install -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60 -y -o Dpkg::Options::=--force-confold --allow-change-held-packages --allow-downgrades kubelet=1.31.8-1.1 kubeadm=1.31.8-1.1 kubectl=1.31.8-1.1 cri-tools=1.31.1-1.1',
    ])
  })

  it('makes no apt call at all when everything is installed and held', () => {
    for (const p of ['kubelet', 'kubeadm', 'kubectl']) sb.setState(`dpkg/${p}`, '1.31.8-1.1\n')
    sb.setState('dpkg/cri-tools', '1.31.0-1.1\n')
    for (const p of ['kubelet', 'kubeadm', 'kubectl', 'cri-tools']) sb.setState(`held/${p}`, '')

    expect(sb.run('k8s-packages.sh', ['check', VERSION])).toMatchObject({code: 0, stdout: ''})
    expect(sb.run('k8s-packages.sh', ['apply', VERSION]).lines).toEqual(['KP_CHANGED=0'])
    expect(sb.calls().filter((c) => c.startsWith('apt-get') || c.startsWith('apt-cache'))).toEqual([])
  })

  it('moves a held, newer patch back to the pinned one, touching only that package', () => {
    for (const p of ['kubelet', 'kubectl']) sb.setState(`dpkg/${p}`, '1.31.8-1.1\n')
    sb.setState('dpkg/kubeadm', '1.31.9-1.1\n')
    sb.setState('dpkg/cri-tools', '1.31.0-1.1\n')
    for (const p of ['kubelet', 'kubeadm', 'kubectl', 'cri-tools']) sb.setState(`held/${p}`, '')

    expect(convergeOnce(sb, 'k8s-packages.sh', [VERSION])).toEqual(['install kubeadm 1.31.8-1.1 (installed: 1.31.9-1.1)'])
    expect(sb.readState('dpkg/kubeadm')).toBe('1.31.8-1.1\n')
  })

  it('refreshes the package lists once in apply before giving up on a version', () => {
    sb.setState('upstream/kubelet', '1.31.10-1.1\n')
    sb.setState('upstream/kubeadm', '1.31.10-1.1\n')
    sb.setState('upstream/kubectl', '1.31.10-1.1\n')
    sb.setState('upstream/cri-tools', '1.31.1-1.1\n')

    const result = sb.run('k8s-packages.sh', ['apply', '1.31.10'])

    expect(result.code, result.stderr).toBe(0)
    expect(sb.calls().filter((c) => c === 'apt-get update -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60')).toHaveLength(1)
  })

  it('fails clearly in apply when the repository does not have the version', () => {
    const result = sb.run('k8s-packages.sh', ['apply', '1.31.42'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('the package repository has no kubelet 1.31.42-*')
  })

  it('in check, a version not in the package lists yet is a change (a dry run before the repository step)', () => {
    const result = sb.run('k8s-packages.sh', ['check', '1.31.42'])
    expect(result.code).toBe(10)
    expect(result.stdout).toContain('would install kubelet 1.31.42-* (from the Kubernetes repository; not in the package lists yet)')
  })

  it.each(['1.31', 'v1.31.8', '1.31.8; reboot'])('refuses the version %j', (bad) => {
    const result = sb.run('k8s-packages.sh', ['check', bad])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('VERSION must be X.Y.Z')
  })
})
