import {describe, expect, it} from 'vitest'

import {controlPlanes, findNode, kubernetesAptRepo, pveNodeOf, workers} from '../../src/lib/config/nodes.js'
import type {KpConfig} from '../../src/lib/config/schema.js'
import {summarize} from '../../src/lib/config/summary.js'
import {parseConfig} from '../../src/lib/config/validate.js'
import {UsageError} from '../../src/lib/errors.js'

function config(extra: Record<string, unknown> = {}, endpoint = 'k8s.lan'): KpConfig {
  const result = parseConfig({
    cluster: {cni: {manifest: 'https://example.com/cni.yaml'}, controlPlaneEndpoint: endpoint, kubernetesVersion: '1.31.4', name: 'lab'},
    network: {dns: ['10.0.0.1'], gateway: '10.0.0.1', prefix: 24},
    nodes: [
      {ip: '10.0.0.11', name: 'cp1', role: 'control-plane', vmid: 201},
      {ip: '10.0.0.12', name: 'cp2', pveNode: 'pve2', role: 'control-plane', vmid: 202},
      {ip: '10.0.0.13', name: 'cp3', role: 'control-plane', vmid: 203},
      {ip: '10.0.0.21', name: 'w1', role: 'worker', vmid: 211},
    ],
    ssh: {user: 'debian'},
    ...extra,
  })
  if (!result.ok) throw new Error(result.problems.map((p) => p.message).join('\n'))
  return result.config
}

const proxmox = {endpoint: 'https://pve:8006', node: 'pve', templateVmid: 9000, tokenId: 'kp@pve!kp', tokenSecret: {env: 'X'}}

describe('node helpers', () => {
  it('splits control planes and workers in file order', () => {
    const c = config()
    expect(controlPlanes(c).map((n) => n.name)).toEqual(['cp1', 'cp2', 'cp3'])
    expect(workers(c).map((n) => n.name)).toEqual(['w1'])
  })

  it('finds a node or names the ones there are', () => {
    expect(findNode(config(), 'w1').vmid).toBe(211)
    expect(() => findNode(config(), 'w9')).toThrow(UsageError)
    expect(() => findNode(config(), 'w9')).toThrow('no node named "w9" in the configuration; its nodes are cp1, cp2, cp3, w1')
  })

  it("places a VM on its own pveNode, else proxmox.node", () => {
    const c = config({proxmox})
    expect(pveNodeOf(c, findNode(c, 'cp1'))).toBe('pve')
    expect(pveNodeOf(c, findNode(c, 'cp2'))).toBe('pve2')
    expect(pveNodeOf(config(), findNode(config(), 'cp1'))).toBeUndefined()
  })

  it('derives the per-minor apt repository and key', () => {
    expect(kubernetesAptRepo(config(), '1.31.4')).toEqual({keyUrl: 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key', repoUrl: 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/'})
    const fpr = '0123456789ABCDEF0123456789ABCDEF01234567'
    const mirror = config({packages: {kubernetesKeyFingerprint: fpr.toLowerCase(), kubernetesKeyUrl: 'http://10.77.0.1:8080/key.asc', kubernetesRepoBase: 'http://10.77.0.1:8080/k8s/'}})
    expect(kubernetesAptRepo(mirror, 'v1.32.0')).toEqual({keyFingerprint: fpr, keyUrl: 'http://10.77.0.1:8080/key.asc', repoUrl: 'http://10.77.0.1:8080/k8s/v1.32/deb/'})
  })
})

describe('validate summary warnings', () => {
  const loaded = (c: KpConfig) => ({config: c, dir: '/x', hash: 'h', path: '/x/kp.yaml'})

  it('has none for a sound file', () => {
    expect(summarize(loaded(config())).result.warnings).toEqual([])
  })

  it('warns when TLS verification is off and when the endpoint is one of several control planes', () => {
    const {lines, result} = summarize(loaded(config({proxmox: {...proxmox, insecureSkipTlsVerify: true}}, '10.0.0.12')))
    expect(result.warnings).toHaveLength(2)
    expect(result.warnings[0]).toMatch(/^proxmox\.insecureSkipTlsVerify: the Proxmox API certificate is not verified/)
    expect(result.warnings[1]).toMatch(/^cluster\.controlPlaneEndpoint: with 3 control planes .* not cp2's address/)
    expect(lines.filter((l) => l.startsWith('  warning  '))).toHaveLength(2)
  })
})
