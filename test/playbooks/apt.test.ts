/** k8s-repo.sh and k8s-packages.sh: the Kubernetes apt repository and the pinned, held packages. */
import {chmodSync, existsSync, readFileSync, statSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox, convergeOnce, expectedGolden, fixture, stubFingerprint} from './harness.js'

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

  describe('with a pinned key fingerprint', () => {
    const releaseKey = readFileSync(fixture('release-key.asc'), 'utf8')
    const PINNED = stubFingerprint(releaseKey)
    const HTTP_REPO = 'http://10.77.0.1:8080/core:/stable:/v1.31/deb/'
    const HTTP_KEY = `${HTTP_REPO}Release.key`
    const OTHER_KEY = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBGSwappedKeyOfSomeoneOnThePath\n-----END PGP PUBLIC KEY BLOCK-----\n'
    const nothingInstalled = () => {
      expect(existsSync(sb.file(KEYRING))).toBe(false)
      expect(existsSync(sb.file('etc/apt/sources.list.d/kubernetes.list'))).toBe(false)
      expect(sb.calls().filter((c) => c.startsWith('apt-get'))).toEqual([])
    }

    it('installs the key over http when it is the pinned one', () => {
      const changes = convergeOnce(sb, 'k8s-repo.sh', [HTTP_REPO, HTTP_KEY, PINNED])

      expect(changes).toContain(`write /etc/apt/keyrings/kubernetes-apt-keyring.gpg from ${HTTP_KEY}`)
      expect(sb.read(KEYRING)).toMatch(/^dearmored:mQENBGMHoXc/)
      expect(sb.calls().filter((c) => c.startsWith('gpg')).some((c) => / --show-keys --with-colons \S+\/key\.asc$/.test(c))).toBe(true)
    })

    it.each(['check', 'apply'])('%s refuses a key whose fingerprint differs, and installs nothing', (mode) => {
      sb.setState('release.key', OTHER_KEY)

      const result = sb.run('k8s-repo.sh', [mode, HTTP_REPO, HTTP_KEY, PINNED])

      expect(result.code).toBe(2)
      expect(result.stderr).toContain(
        `k8s-repo.sh: the key from ${HTTP_KEY} has fingerprint ${stubFingerprint(OTHER_KEY)}, not the pinned ${PINNED} (packages.kubernetesKeyFingerprint); nothing was installed`,
      )
      expect(result.stdout).not.toContain('KP_CHANGED')
      nothingInstalled()
    })

    it('refuses the pinned key with another key beside it: apt would trust both', () => {
      sb.setState('release.key', releaseKey + OTHER_KEY)

      const result = sb.run('k8s-repo.sh', ['apply', HTTP_REPO, HTTP_KEY, PINNED])

      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`has fingerprint ${PINNED} ${stubFingerprint(OTHER_KEY)}, not the pinned ${PINNED}`)
      nothingInstalled()
    })

    it('keeps an installed keyring when the pinned key no longer matches upstream', () => {
      convergeOnce(sb, 'k8s-repo.sh', [REPO, KEY, PINNED])
      const before = sb.read(KEYRING)
      sb.setState('release.key', OTHER_KEY)

      expect(sb.run('k8s-repo.sh', ['apply', REPO, KEY, PINNED]).code).toBe(2)
      expect(sb.read(KEYRING)).toBe(before)
    })

    it('refuses a key over plain http without a fingerprint, before downloading it', () => {
      const result = sb.run('k8s-repo.sh', ['apply', HTTP_REPO, HTTP_KEY])

      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`refusing the signing key over plain http (${HTTP_KEY}) without a FINGERPRINT to check it against (kp.yaml: packages.kubernetesKeyFingerprint)`)
      expect(sb.calls().filter((c) => c.startsWith('curl'))).toEqual([])
      nothingInstalled()
    })

    it.each(['abc', PINNED.toLowerCase(), `${PINNED}0`, `${PINNED.slice(0, 39)};`])('refuses the fingerprint %j', (bad) => {
      const result = sb.run('k8s-repo.sh', ['check', REPO, KEY, bad])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain('FINGERPRINT must be 40 upper-case hex digits')
    })
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
