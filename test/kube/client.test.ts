/** The Kubernetes adapter against the lab's API server: typed calls, errors, pagination, TLS, deadlines. */
import {createServer} from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {connectKube} from '../../src/lib/kube/client.js'
import {KubeApiError} from '../../src/lib/kube/errors.js'
import type {Kube} from '../../src/lib/kube/types.js'
import {ConfigError} from '../../src/lib/errors.js'
import {type Node, RESOURCES} from '../../src/lib/lab/kube/index.js'
import {startTestKube, type TestKube, until} from '../lab/kube/helpers.js'

describe('the Kubernetes adapter', () => {
  let t: TestKube
  let kube: Kube
  beforeAll(async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
    kube = await connectKube({kubeconfig: t.kubeconfig, retry: {baseMs: 10, maxMs: 20, tries: 3}})
  })
  afterAll(async () => {
    await kube.close()
    await t.kube.close()
  })

  it('reads version, health and the serving certificate', async () => {
    expect((await kube.version()).gitVersion).toBe('v1.31.8')
    const ready = await kube.health('/readyz', {verbose: true})
    expect(ready.ok).toBe(true)
    expect(ready.body).toContain('[+]etcd ok')
    const cert = await kube.servingCertificate()
    expect(cert.subject).toBe('kube-apiserver')
    expect(cert.notAfter.getTime()).toBeGreaterThan(Date.now())
    expect(await kube.evictionSupported()).toBe(true)
  })

  it('lists across pages and by field selector', async () => {
    const pods = RESOURCES.find((r) => r.name === 'pods')!
    for (let i = 0; i < 1200; i++) {
      t.kube.cluster.create(pods, 'default', {apiVersion: 'v1', kind: 'Pod', metadata: {name: `bulk-${i}`, namespace: 'default'}, spec: {containers: [{image: 'x', name: 'c'}], nodeName: 'w2'}})
    }

    const before = kube.requestCount()
    const listed = await kube.listPods({fieldSelector: 'spec.nodeName=w2'})
    expect(listed.filter((p) => p.metadata?.name?.startsWith('bulk-'))).toHaveLength(1200)
    expect(listed.every((p) => p.spec?.nodeName === 'w2')).toBe(true)
    expect(kube.requestCount() - before).toBeGreaterThanOrEqual(3) // 500 per page
    const lists = t.kube.requestLog.filter((e) => e.path === '/api/v1/pods' && e.query.limit === '500')
    expect(lists.length).toBeGreaterThanOrEqual(3)
    for (let i = 0; i < 1200; i++) t.kube.cluster.delete(pods, 'default', `bulk-${i}`, {gracePeriodSeconds: 0})
  })

  it('cordons and uncordons with the strategic merge patch kubectl sends', async () => {
    const cordoned = await kube.setUnschedulable('w1', true)
    expect(cordoned.spec?.unschedulable).toBe(true)
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBe(true)
    const patch = t.kube.requestLog.findLast((e) => e.method === 'PATCH')
    expect(patch?.path).toBe('/api/v1/nodes/w1')
    await kube.setUnschedulable('w1', false)
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBeUndefined()
  })

  it('turns a PDB refusal into a typed 429 with the budget named in its causes', async () => {
    t.kube.setFaults({blockPdbs: ['default/web']})
    const web = (await kube.listPods({labelSelector: 'app=web', namespace: 'default'}))[0]!
    const error = await kube.evictPod('default', web.metadata!.name!).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(KubeApiError)
    const e = error as KubeApiError
    expect(e.status).toBe(429)
    expect(e.message).toContain("Cannot evict pod as it would violate the pod's disruption budget")
    expect(e.causes()[0]?.message).toMatch(/disruption budget web/)
    expect(e.exitCode).toBe(1)
    t.kube.setFaults({})
  })

  it('evicts, then reports a vanished pod as 404 and getPod as undefined', async () => {
    const api = (await kube.listPods({labelSelector: 'app=api', namespace: 'default'}))[0]!
    await kube.evictPod('default', api.metadata!.name!, {gracePeriodSeconds: 0})
    await until('pod gone', () => !t.kube.get('pods', 'default', api.metadata!.name!))
    expect(await kube.getPod('default', api.metadata!.name!)).toBeUndefined()
    const error = (await kube.evictPod('default', api.metadata!.name!).catch((e: unknown) => e)) as KubeApiError
    expect(error.status).toBe(404)
  })

  it('retries a GET through a 503 burst, but never a write', async () => {
    t.kube.setFaults({errors: [{method: 'GET', path: '/api/v1/nodes', rate: 0.5, status: 503}], seed: 3})
    const nodes = await kube.listNodes()
    expect(nodes.map((n) => n.metadata?.name).sort()).toEqual(['cp1', 'w1', 'w2'])
    t.kube.setFaults({errors: [{method: 'PATCH', rate: 1, status: 500}]})
    const writes = t.kube.requestLog.length
    await expect(kube.setUnschedulable('w2', true)).rejects.toThrow(/cordon node w2: 500/)
    expect(t.kube.requestLog.slice(writes).filter((e) => e.method === 'PATCH')).toHaveLength(1)
    t.kube.setFaults({})
  })

  it('names the server and kubeconfig when nothing answers, within the deadline', async () => {
    const silent = createServer(() => {}) // accepts TCP, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    const port = (silent.address() as {port: number}).port
    const {writeFileSync, readFileSync} = await import('node:fs')
    const file = `${t.dir}/silent.conf`
    writeFileSync(file, readFileSync(t.kubeconfig, 'utf8').replace(/server: .*/, `server: https://127.0.0.1:${port}`))
    const dead = await connectKube({kubeconfig: file, requestTimeoutMs: 300, retry: {baseMs: 10, maxMs: 10, tries: 2}})
    const error = (await dead.version().catch((e: unknown) => e)) as KubeApiError
    expect(error).toBeInstanceOf(KubeApiError)
    expect(error.message).toContain(`https://127.0.0.1:${port} (ETIMEDOUT)`)
    expect(error.hint).toContain(file)
    expect(error.transient).toBe(true)
    const aborted = await dead.listNodes({signal: AbortSignal.timeout(100)}).catch((e: unknown) => e)
    expect(aborted).toBeInstanceOf(KubeApiError)
    await dead.close()
    silent.close()
  })

  it('refuses a missing kubeconfig with a config error', async () => {
    await expect(connectKube({kubeconfig: '/nonexistent/admin.conf'})).rejects.toBeInstanceOf(ConfigError)
  })
})
