/** The real kubectl against the fake API server: get, describe, cordon, uncordon and drain. */
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {Node, Pod} from '../../../src/lib/lab/kube/index.js'
import {KUBECTL, kubectl, startTestKube, type TestKube, until} from './helpers.js'

if (!KUBECTL) console.warn('kubectl not found: skipping the kubectl tests of the fake Kubernetes API')

describe.skipIf(!KUBECTL)('the real kubectl against the fake API server', () => {
  let t: TestKube
  beforeEach(async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
  })
  afterEach(() => t.kube.close())

  it('reports the server version', async () => {
    const {code, stdout} = await kubectl(t, ['version'])
    expect(code).toBe(0)
    expect(stdout).toContain('Server Version: v1.31.8')
  })

  it('lists nodes wide, all pods, and filters by field and label', async () => {
    const nodes = await kubectl(t, ['get', 'nodes', '-o', 'wide'])
    expect(nodes.code).toBe(0)
    expect(nodes.stdout).toMatch(/^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/)
    expect(nodes.stdout).toMatch(/cp1\s+Ready\s+control-plane\s+\S+\s+v1\.31\.8\s+10\.10\.0\.11/)
    expect(nodes.stdout).toMatch(/w1\s+Ready\s+<none>/)

    const pods = await kubectl(t, ['get', 'pods', '-A'])
    expect(pods.stdout).toMatch(/kube-system\s+etcd-cp1\s+1\/1\s+Running/)
    expect(pods.stdout).toMatch(/monitoring\s+node-exporter-\S+/)

    const onW1 = await kubectl(t, ['get', 'pods', '-A', '--field-selector', 'spec.nodeName=w1', '-o', 'json'])
    const items = (JSON.parse(onW1.stdout) as {items: Pod[]}).items
    expect(items.length).toBeGreaterThan(0)
    expect(items.every((p) => p.spec.nodeName === 'w1')).toBe(true)
    expect(items.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(['cache-0', 'debug']))

    const web = await kubectl(t, ['get', 'pods', '-l', 'app=web', '-o', 'name'])
    expect(web.stdout.trim().split('\n')).toHaveLength(3)
    expect(web.stdout).toMatch(/^pod\/web-/)

    const yaml = await kubectl(t, ['get', 'node', 'w1', '-o', 'yaml'])
    expect(yaml.stdout).toContain('kubeletVersion: v1.31.8')

    // kubectl get only reads.
    expect(t.kube.requestLog.filter((e) => e.method !== 'GET')).toEqual([])
    expect(t.kube.requestLog.every((e) => e.user === 'kubernetes-admin')).toBe(true)
  })

  it('describes a node with its conditions and pods', async () => {
    const {code, stdout} = await kubectl(t, ['describe', 'node', 'w1'])
    expect(code).toBe(0)
    expect(stdout).toMatch(/Ready\s+True\s+.*KubeletReady/)
    expect(stdout).toContain('Non-terminated Pods:')
    expect(stdout).toContain('cache-0')
  })

  it('deletes a pod and waits for it through a watch', async () => {
    const result = await kubectl(t, ['delete', 'pod', 'debug', '--timeout=10s'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('pod "debug" deleted')
    expect(t.kube.get('pods', 'default', 'debug')).toBeUndefined()
    expect(t.kube.requestLog.some((e) => e.query.watch === 'true')).toBe(true)
  })

  it('cordons and uncordons', async () => {
    expect((await kubectl(t, ['cordon', 'w1'])).stdout).toContain('node/w1 cordoned')
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBe(true)
    expect((await kubectl(t, ['uncordon', 'w1'])).stdout).toContain('node/w1 uncordoned')
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBeUndefined()
  })

  it('drains a node: evicts its pods, leaves the DaemonSet pod, and the controllers re-create them elsewhere', async () => {
    // Given
    const before = t.kube.list<Pod>('pods').filter((p) => p.spec.nodeName === 'w1')
    const expected = before.filter((p) => !p.metadata.ownerReferences?.some((r) => r.kind === 'DaemonSet')).map((p) => `${p.metadata.namespace}/${p.metadata.name}`)
    // When
    const result = await kubectl(t, ['drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=20s'])
    // Then
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('node/w1 drained')
    const evicted = t.kube.requestLog.filter((e) => e.method === 'POST' && e.path.endsWith('/eviction') && e.status === 201).map((e) => e.path.replace(/^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/eviction$/, '$1/$2'))
    expect([...new Set(evicted)].sort()).toEqual(expected.sort())
    const left = t.kube.list<Pod>('pods').filter((p) => p.spec.nodeName === 'w1')
    expect(left.map((p) => p.metadata.labels?.app)).toEqual(['node-exporter'])
    await until('web back to 3 ready pods', () => t.kube.list<Pod>('pods', 'default').filter((p) => p.metadata.labels?.app === 'web' && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp).length === 3)
    expect(t.kube.list<Pod>('pods', 'default').some((p) => p.metadata.name === 'debug')).toBe(false)
  })

  it('changes nothing on a server-side dry run of drain', async () => {
    const before = t.kube.list<Pod>('pods').map((p) => p.metadata.uid).sort()
    const result = await kubectl(t, ['drain', 'w1', '--dry-run=server', '--ignore-daemonsets', '--delete-emptydir-data', '--force'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain('(server dry run)')
    expect(t.kube.requestLog.some((e) => e.path.endsWith('/eviction') && e.status === 201)).toBe(true)
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBeUndefined()
    expect(t.kube.list<Pod>('pods').filter((p) => p.metadata.deletionTimestamp)).toEqual([])
    expect(t.kube.list<Pod>('pods').map((p) => p.metadata.uid).sort()).toEqual(before)
  })

  it('prints workloads with their own columns', async () => {
    const {stdout} = await kubectl(t, ['get', 'deploy,rs,ds,pdb', '-A'])
    expect(stdout).toMatch(/deployment\.apps\/web\s+3\/3\s+3\s+3/)
    expect(stdout).toMatch(/daemonset\.apps\/node-exporter\s+3\s+3\s+3\s+3\s+3\s+<none>/)
    expect(stdout).toMatch(/poddisruptionbudget\.policy\/web\s+2\s+N\/A\s+1/)
  })

  it('skips mirror pods when draining the control-plane node', async () => {
    const result = await kubectl(t, ['drain', 'cp1', '--ignore-daemonsets', '--timeout=20s'])
    expect(result.code, result.stderr).toBe(0)
    expect(t.kube.requestLog.filter((e) => e.path.endsWith('/eviction'))).toEqual([])
    expect(t.kube.get('pods', 'kube-system', 'etcd-cp1')).toBeDefined()
  })

  it('fails a drain that a blocking PDB holds up, naming the disruption budget', async () => {
    t.kube.setFaults({blockPdbs: ['default/web']})
    const result = await kubectl(t, ['drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=5s'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain("Cannot evict pod as it would violate the pod's disruption budget.")
    expect(t.kube.requestLog.some((e) => e.path.endsWith('/eviction') && e.status === 429)).toBe(true)
  })
})
