/**
 * The fake API server with its objects in a real etcd (3.4, TLS with client-certificate auth, on
 * 127.0.0.1): keys as the real apiserver writes them, a restart reloads from etcd, writes fail as on a
 * real cluster when the quorum is lost and the health endpoints say so, and a snapshot restore
 * followed by `reload()` brings back what the snapshot held.
 */
import {mkdtempSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {FakeKubeOptions, KubeList, KubeObject, Node} from '../../../src/lib/lab/kube/index.js'
import {type EtcdCluster, freePort, startEtcd, waitFor} from './etcd.js'
import {call, kubectl, startTestKube, type TestKube, until} from './helpers.js'

const CM = '/api/v1/namespaces/default/configmaps'

function etcdOption(etcd: EtcdCluster, members = etcd.members): NonNullable<FakeKubeOptions['etcd']> {
  return {ca: etcd.pki.ca, cert: etcd.pki.cert, endpoints: () => members.map((m) => m.clientUrl), key: etcd.pki.key, requestTimeoutMs: 1500}
}

async function etcdGet(etcd: EtcdCluster, key: string): Promise<unknown> {
  const got = await etcd.etcdctl(['get', key, '--print-value-only'])
  expect(got.code, got.stderr).toBe(0)
  return got.stdout.trim() === '' ? undefined : JSON.parse(got.stdout)
}

describe('the fake API server keeps its objects in a real etcd', () => {
  let etcd: EtcdCluster
  beforeAll(async () => {
    etcd = await startEtcd(1)
  })
  afterAll(() => etcd?.stopAll())

  it('writes under /registry/… before answering, and a new server on the same etcd serves them', async () => {
    // Given a server on an empty etcd: it seeds the namespaces and the kubernetes Service there
    const first = await startTestKube({controllerIntervalMs: 50, etcd: etcdOption(etcd)})
    let second: TestKube | undefined
    try {
      expect(await etcdGet(etcd, '/registry/namespaces/kube-system')).toMatchObject({kind: 'Namespace', metadata: {name: 'kube-system'}})
      expect(await etcdGet(etcd, '/registry/services/specs/default/kubernetes')).toMatchObject({spec: {clusterIP: '10.96.0.1'}})

      // When objects are created through the API and by the controllers
      const created = await call(first.kube, 'POST', CM, {metadata: {name: 'settings'}, data: {mode: 'fast'}})
      expect(created.status).toBe(201)
      first.kube.seedDemo({nodes: ['cp1', 'w1']})
      await first.kube.committed()

      // Then etcd holds them under the real apiserver's keys, as the API answered them
      expect(await etcdGet(etcd, '/registry/configmaps/default/settings')).toEqual(created.body)
      expect(await etcdGet(etcd, '/registry/minions/w1')).toMatchObject({kind: 'Node', metadata: {name: 'w1'}})
      const keys = (await etcd.etcdctl(['get', '/registry/', '--prefix', '--keys-only'])).stdout.split('\n').filter(Boolean)
      expect(keys).toEqual(expect.arrayContaining(['/registry/deployments/default/web', '/registry/poddisruptionbudgets/default/web', '/registry/leases/kube-node-lease/w1']))
      expect(keys.filter((k) => k.startsWith('/registry/pods/default/web-')).length).toBe(3)
      // A dry run stores nothing, in etcd either
      await call(first.kube, 'POST', `${CM}?dryRun=All`, {metadata: {name: 'dry'}})
      expect(await etcdGet(etcd, '/registry/configmaps/default/dry')).toBeUndefined()
      // The state file keeps only the node-local static pods and the counter
      await first.kube.close()
      const state = JSON.parse(readFileSync(first.stateFile, 'utf8')) as {objects: object; staticPods: unknown[]}
      expect(state.objects).toEqual({})
      expect(state.staticPods.length).toBe(4)

      // When a new server starts on the same etcd with a fresh state file
      second = await startTestKube({controllerIntervalMs: 50, etcd: etcdOption(etcd)})
      // Then it serves what etcd holds, and its counter continues above every stored resourceVersion
      const cm = await call(second.kube, 'GET', `${CM}/settings`)
      expect(cm.body).toEqual(created.body)
      const nodes = (await call(second.kube, 'GET', '/api/v1/nodes')).body as KubeList
      expect(nodes.items.map((n) => n.metadata.name).sort()).toEqual(['cp1', 'w1'])
      const updated = await call(second.kube, 'PUT', `${CM}/settings`, {...(cm.body as KubeObject), data: {mode: 'slow'}})
      expect(updated.status).toBe(200)
      const rvs = nodes.items.map((n) => Number(n.metadata.resourceVersion))
      expect(Number((updated.body as KubeObject).metadata.resourceVersion)).toBeGreaterThan(Math.max(...rvs))
      expect(await etcdGet(etcd, '/registry/configmaps/default/settings')).toMatchObject({data: {mode: 'slow'}})
    } finally {
      await first.kube.close()
      await second?.kube.close()
    }
  })

  it('brings back what a snapshot held: etcdctl snapshot save, delete, snapshot restore, reload()', async () => {
    // Given a ConfigMap made with the real kubectl, and a snapshot
    const t = await startTestKube({controllerIntervalMs: 50, etcd: etcdOption(etcd)})
    try {
      const made = await kubectl(t, ['create', 'configmap', 'keep-me', '--from-literal=a=1'])
      expect(made.code, made.stderr).toBe(0)
      const snapshot = path.join(etcd.dir, 'snap.db')
      const saved = await etcd.etcdctl(['snapshot', 'save', snapshot])
      expect(saved.code, saved.stderr).toBe(0)
      const deleted = await kubectl(t, ['delete', 'configmap', 'keep-me'])
      expect(deleted.code, deleted.stderr).toBe(0)
      expect(await etcdGet(etcd, '/registry/configmaps/default/keep-me')).toBeUndefined()

      // When etcd is restored from the snapshot into a new data dir and the server reloads
      const [member] = etcd.members
      await etcd.stop(member!)
      const dataDir = path.join(etcd.dir, 'restored')
      const restored = await etcd.etcdctl(['snapshot', 'restore', snapshot, '--data-dir', dataDir, '--name', member!.name, '--initial-cluster', `${member!.name}=${member!.peerUrl}`, '--initial-advertise-peer-urls', member!.peerUrl])
      expect(restored.code, restored.stderr).toBe(0)
      await etcd.start(member!, {dataDir})
      const loaded = await t.kube.reload()

      // Then the real kubectl sees the ConfigMap again, and new writes go on above the old resourceVersions
      expect(loaded.objects).toBeGreaterThan(10)
      const got = await kubectl(t, ['get', 'configmap', 'keep-me', '-o', 'jsonpath={.data.a}'])
      expect(got).toMatchObject({code: 0, stdout: '1'})
      const again = await kubectl(t, ['label', 'configmap', 'keep-me', 'restored=yes'])
      expect(again.code, again.stderr).toBe(0)
      expect(await etcdGet(etcd, '/registry/configmaps/default/keep-me')).toMatchObject({metadata: {labels: {restored: 'yes'}}})
    } finally {
      await t.kube.close()
    }
  })

  it('refuses to start when no etcd endpoint answers, naming the endpoints; a member that is down is passed over', async () => {
    const port = await freePort()
    const dead = `https://127.0.0.1:${port}`
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-fake-kube-'))
    await expect(startTestKube({etcd: {...etcdOption(etcd), endpoints: () => [dead]}}, dir)).rejects.toThrow(
      `the lab's API server could not read its objects from etcd at ${dead}: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing dial tcp 127.0.0.1:${port}: ECONNREFUSED"`,
    )

    const t = await startTestKube({etcd: {...etcdOption(etcd), endpoints: () => [dead, etcd.members[0]!.clientUrl]}}, dir)
    try {
      expect((await call(t.kube, 'POST', CM, {metadata: {name: 'via-second'}})).status).toBe(201)
      expect(await etcdGet(etcd, '/registry/configmaps/default/via-second')).toMatchObject({metadata: {name: 'via-second'}})
      expect((await t.kube.etcdHealth()).map((m) => m.healthy)).toEqual([false, true])
      expect(await call(t.kube, 'GET', '/readyz/etcd')).toMatchObject({body: 'ok', status: 200})
    } finally {
      await t.kube.close()
    }
  })
})

describe('a 3-member etcd losing its quorum', () => {
  let etcd: EtcdCluster
  let t: TestKube
  beforeAll(async () => {
    etcd = await startEtcd(3)
    t = await startTestKube({controllerIntervalMs: 50, etcd: etcdOption(etcd)})
    t.kube.seedDemo({nodes: ['cp1', 'w1']})
    await t.kube.committed()
  })
  afterAll(async () => {
    await t?.kube.close()
    await etcd?.stopAll()
  })

  it('fails writes with the etcd error and changes nothing, fails /readyz/etcd, and recovers when the members return', async () => {
    // Given a healthy cluster
    expect((await t.kube.etcdHealth()).map((m) => m.healthy)).toEqual([true, true, true])
    expect(await call(t.kube, 'GET', '/readyz/etcd')).toMatchObject({body: 'ok', status: 200})

    // When two of the three members stop
    const [, second, third] = etcd.members
    await etcd.stop(second!)
    await etcd.stop(third!)

    // Then the health endpoints fail the etcd check, as the apiserver renders it
    await waitFor(async () => (await call(t.kube, 'GET', '/readyz/etcd')).status === 500, '/readyz/etcd failing')
    expect(String((await call(t.kube, 'GET', '/readyz/etcd')).body)).toMatch(/^internal server error: error getting data from etcd: /)
    const verbose = await call(t.kube, 'GET', '/readyz?verbose')
    expect(verbose.status).toBe(500)
    expect(verbose.body).toContain('[-]etcd failed: reason withheld')
    expect(verbose.body).toContain('[+]ping ok')
    expect((await call(t.kube, 'GET', '/livez')).status).toBe(500)
    expect((await t.kube.etcdHealth()).filter((m) => m.healthy)).toEqual([])

    // And a write answers the apiserver's 500 with etcd's message, and nothing changed in memory
    const before = await call(t.kube, 'GET', '/api/v1/nodes/w1')
    const write = await call(t.kube, 'POST', CM, {metadata: {name: 'lost'}})
    expect(write.status).toBe(500)
    expect(write.body).toMatchObject({code: 500, kind: 'Status', status: 'Failure'})
    expect((write.body as {message: string}).message).toMatch(/^(etcdserver: request timed out|etcdserver: no leader|context deadline exceeded|rpc error: code = Unavailable)/)
    expect((write.body as {reason?: string}).reason).toBeUndefined()
    expect(t.kube.get('configmaps', 'default', 'lost')).toBeUndefined()
    const patch = await call(t.kube, 'PATCH', '/api/v1/nodes/w1', {spec: {unschedulable: true}}, {contentType: 'application/strategic-merge-patch+json'})
    expect(patch.status).toBe(500)
    // Reads keep answering from the cache, unchanged
    expect(await call(t.kube, 'GET', '/api/v1/nodes/w1')).toMatchObject({body: before.body, status: 200})
    expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.unschedulable).toBeUndefined()

    // When the members start again
    await etcd.start(second!)
    await etcd.start(third!)

    // Then readyz passes and writes work again, committed to etcd
    await waitFor(async () => (await call(t.kube, 'GET', '/readyz')).status === 200, '/readyz passing')
    await waitFor(async () => (await call(t.kube, 'POST', CM, {metadata: {name: 'after'}})).status === 201, 'a write to succeed')
    expect(await etcdGet(etcd, '/registry/configmaps/default/after')).toMatchObject({metadata: {name: 'after'}})
    // The cache is etcd's again: a write etcd applied after all (a leader's entry) would be read back
    await until('the cache re-read', () => !t.kube.cluster.store.stale)
    expect(t.kube.get('configmaps', 'default', 'lost')).toEqual((await etcdGet(etcd, '/registry/configmaps/default/lost')) ?? undefined)
  })
})
