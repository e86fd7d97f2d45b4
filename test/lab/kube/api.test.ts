/** The fake API server through a raw HTTPS client: auth, discovery, health, CRUD semantics, patches, eviction, faults. */
import {X509Certificate} from 'node:crypto'
import {readFileSync, statSync} from 'node:fs'
import {request} from 'node:https'
import path from 'node:path'

import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import type {Node, Pod, PodDisruptionBudget} from '../../../src/lib/lab/kube/index.js'
import {call, startTestKube, type TestKube, until} from './helpers.js'

const NS = '/api/v1/namespaces/default'

function pod(name: string, labels: Record<string, string> = {}, nodeName?: string): unknown {
  return {apiVersion: 'v1', kind: 'Pod', metadata: {labels, name}, spec: {containers: [{image: 'busybox', name: 'c'}], ...(nodeName ? {nodeName} : {})}}
}

describe('the fake Kubernetes API', () => {
  let t: TestKube
  beforeEach(async () => {
    // Controllers only on tick(), so each test sees a settled cluster.
    t = await startTestKube({controllerIntervalMs: 0})
    t.kube.seedDemo({nodes: ['cp1', 'w1', 'w2']})
  })
  afterEach(() => t.kube.close())

  describe('authentication', () => {
    it('answers 401 Unauthorized without a client certificate', async () => {
      const answer = await call(t.kube, 'GET', '/api/v1/nodes', undefined, {anonymous: true})
      expect(answer.status).toBe(401)
      expect(answer.body).toEqual({apiVersion: 'v1', code: 401, kind: 'Status', message: 'Unauthorized', metadata: {}, reason: 'Unauthorized', status: 'Failure'})
      // Health and version stay public, as system:public-info-viewer allows.
      expect((await call(t.kube, 'GET', '/readyz', undefined, {anonymous: true})).status).toBe(200)
      expect((await call(t.kube, 'GET', '/version', undefined, {anonymous: true})).body).toMatchObject({gitVersion: 'v1.31.8', major: '1', minor: '31'})
    })

    it('takes the user from the certificate CN and the groups from O', async () => {
      await call(t.kube, 'GET', '/api/v1/nodes')
      expect(t.kube.requestLog.at(-1)).toMatchObject({groups: ['kubeadm:cluster-admins', 'system:masters', 'system:authenticated'], method: 'GET', path: '/api/v1/nodes', status: 200, user: 'kubernetes-admin'})
      const file = await t.kube.writeKubeconfig(path.join(t.dir, 'node.conf'), {groups: ['system:nodes'], user: 'system:node:w1'})
      const config = parse(readFileSync(file, 'utf8')) as {users: Array<{user: Record<string, string>}>}
      const certPem = Buffer.from(config.users[0]?.user['client-certificate-data'] ?? '', 'base64').toString('utf8')
      expect(new X509Certificate(certPem).subject).toBe('O=system:nodes\nCN=system:node:w1')
      expect(new X509Certificate(certPem).verify(new X509Certificate(t.kube.caPem).publicKey)).toBe(true)
      expect(statSync(file).mode & 0o777).toBe(0o600)
    })
  })

  describe('discovery and health', () => {
    it('serves legacy discovery as application/json even when aggregated discovery is asked for', async () => {
      const aggregated = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
      const api = await call(t.kube, 'GET', '/api', undefined, {accept: aggregated})
      expect(api.headers['content-type']).toBe('application/json')
      expect(api.body).toMatchObject({kind: 'APIVersions', versions: ['v1']})
      const core = await call(t.kube, 'GET', '/api/v1')
      const resources = (core.body as {resources: Array<Record<string, unknown>>}).resources
      expect(resources.find((r) => r.name === 'pods/eviction')).toEqual({group: 'policy', kind: 'Eviction', name: 'pods/eviction', namespaced: true, singularName: '', verbs: ['create'], version: 'v1'})
      expect(resources.find((r) => r.name === 'nodes')).toMatchObject({kind: 'Node', namespaced: false, shortNames: ['no']})
      const groups = await call(t.kube, 'GET', '/apis')
      expect((groups.body as {groups: Array<{name: string}>}).groups.map((g) => g.name)).toEqual(expect.arrayContaining(['apps', 'policy', 'certificates.k8s.io']))
      const apps = await call(t.kube, 'GET', '/apis/apps/v1')
      expect((apps.body as {resources: Array<{name: string; shortNames?: string[]}>}).resources.find((r) => r.name === 'deployments')?.shortNames).toEqual(['deploy'])
      expect((await call(t.kube, 'GET', '/apis/batch/v1')).status).toBe(404)
    })

    it('answers readyz, livez and healthz like the real server', async () => {
      const verbose = await call(t.kube, 'GET', '/readyz?verbose')
      expect(verbose.body).toContain('[+]etcd ok')
      expect(verbose.body).toContain('readyz check passed')
      expect((await call(t.kube, 'GET', '/readyz/etcd')).body).toBe('ok')
      expect((await call(t.kube, 'GET', '/livez')).body).toBe('ok')
      expect((await call(t.kube, 'GET', '/healthz')).body).toBe('ok')
    })
  })

  describe('objects', () => {
    it('pages lists with limit and an opaque continue token', async () => {
      await call(t.kube, 'POST', '/api/v1/namespaces', {metadata: {name: 'paged'}})
      for (let i = 0; i < 7; i++) expect((await call(t.kube, 'POST', '/api/v1/namespaces/paged/pods', pod(`p${i}`))).status).toBe(201)
      const names: string[] = []
      let token: string | undefined
      const remaining: Array<number | undefined> = []
      do {
        const page = await call(t.kube, 'GET', `/api/v1/namespaces/paged/pods?limit=3${token ? `&continue=${encodeURIComponent(token)}` : ''}`)
        const body = page.body as {items: Pod[]; metadata: {continue?: string; remainingItemCount?: number; resourceVersion: string}}
        expect(body.metadata.resourceVersion).toMatch(/^\d+$/)
        names.push(...body.items.map((p) => p.metadata.name))
        remaining.push(body.metadata.remainingItemCount)
        token = body.metadata.continue
      } while (token)
      expect(names).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6'])
      expect(remaining).toEqual([4, 1, undefined])
      const bad = await call(t.kube, 'GET', '/api/v1/namespaces/paged/pods?limit=3&continue=bogus')
      expect(bad.status).toBe(400)
    })

    it('filters with label and field selectors', async () => {
      const list = async (query: string) => ((await call(t.kube, 'GET', `/api/v1/pods?${query}`)).body as {items: Pod[]}).items.map((p) => p.metadata.name).sort()
      expect(await list('labelSelector=app%20in%20(cache,nothing)')).toEqual(['cache-0'])
      expect((await list('labelSelector=run')).length).toBe(1)
      expect(await list('fieldSelector=metadata.name%3Ddebug')).toEqual(['debug'])
      const onW1 = await list('fieldSelector=spec.nodeName%3Dw1,metadata.namespace!%3Dmonitoring')
      expect(onW1).toEqual(expect.arrayContaining(['cache-0', 'debug']))
      expect(onW1.some((n) => n.startsWith('node-exporter'))).toBe(false)
      const unsupported = await call(t.kube, 'GET', '/api/v1/pods?fieldSelector=spec.image%3Dx')
      expect(unsupported.status).toBe(400)
      expect((unsupported.body as {message: string}).message).toBe('field label not supported: spec.image')
    })

    it('reports NotFound, AlreadyExists, Invalid and Conflict as Status objects', async () => {
      expect((await call(t.kube, 'GET', `${NS}/pods/nope`)).body).toEqual({apiVersion: 'v1', code: 404, details: {kind: 'pods', name: 'nope'}, kind: 'Status', message: 'pods "nope" not found', metadata: {}, reason: 'NotFound', status: 'Failure'})
      expect((await call(t.kube, 'GET', '/apis/apps/v1/namespaces/default/deployments/nope')).body).toMatchObject({details: {group: 'apps', kind: 'deployments', name: 'nope'}, message: 'deployments.apps "nope" not found'})
      const dup = await call(t.kube, 'POST', `${NS}/pods`, pod('debug'))
      expect(dup.body).toMatchObject({code: 409, message: 'pods "debug" already exists', reason: 'AlreadyExists'})
      expect((await call(t.kube, 'POST', `${NS}/pods`, pod('Bad_Name'))).body).toMatchObject({code: 422, reason: 'Invalid'})
      expect((await call(t.kube, 'POST', '/api/v1/namespaces/ghost/pods', pod('x'))).body).toMatchObject({code: 404, message: 'namespaces "ghost" not found'})

      const current = (await call(t.kube, 'GET', '/api/v1/nodes/w1')).body as Node
      const stale = {...current, metadata: {...current.metadata, labels: {...current.metadata.labels, a: 'b'}, resourceVersion: '1'}}
      const conflict = await call(t.kube, 'PUT', '/api/v1/nodes/w1', stale)
      expect(conflict.status).toBe(409)
      expect(conflict.body).toMatchObject({message: 'Operation cannot be fulfilled on nodes "w1": the object has been modified; please apply your changes to the latest version and try again', reason: 'Conflict'})
      const fresh = await call(t.kube, 'PUT', '/api/v1/nodes/w1', {...stale, metadata: {...stale.metadata, resourceVersion: current.metadata.resourceVersion}})
      expect(fresh.status).toBe(200)
      expect(Number((fresh.body as Node).metadata.resourceVersion)).toBeGreaterThan(Number(current.metadata.resourceVersion))
    })

    it('applies merge, strategic merge and JSON patches', async () => {
      const patch = (body: unknown, type: string) => call(t.kube, 'PATCH', '/api/v1/nodes/w1', body, {contentType: type})
      // What kubectl cordon and uncordon send.
      expect(((await patch({spec: {unschedulable: true}}, 'application/strategic-merge-patch+json')).body as Node).spec?.unschedulable).toBe(true)
      expect(((await patch({spec: {unschedulable: null}}, 'application/strategic-merge-patch+json')).body as Node).spec?.unschedulable).toBeUndefined()
      const merged = (await patch({metadata: {labels: {'beta.kubernetes.io/os': null, tier: 'gold'}}}, 'application/merge-patch+json')).body as Node
      expect(merged.metadata.labels).toMatchObject({tier: 'gold'})
      expect(merged.metadata.labels?.['beta.kubernetes.io/os']).toBeUndefined()
      const json = await patch([{op: 'test', path: '/metadata/labels/tier', value: 'gold'}, {op: 'replace', path: '/metadata/labels/tier', value: 'silver'}, {op: 'add', path: '/metadata/annotations/x~1y', value: '1'}, {op: 'remove', path: '/metadata/labels/kubernetes.io~1arch'}], 'application/json-patch+json')
      expect(json.status).toBe(200)
      expect((json.body as Node).metadata.labels).toMatchObject({tier: 'silver'})
      expect((json.body as Node).metadata.annotations?.['x/y']).toBe('1')
      expect((json.body as Node).metadata.labels?.['kubernetes.io/arch']).toBeUndefined()
      expect((await patch([{op: 'test', path: '/metadata/labels/tier', value: 'gold'}], 'application/json-patch+json')).status).toBe(422)
      expect((await patch({}, 'application/yaml')).status).toBe(415)
    })

    it('deletes pods gracefully, at once with gracePeriodSeconds=0, and never when a pod is stuck', async () => {
      const answer = await call(t.kube, 'DELETE', `${NS}/pods/debug`)
      expect(answer.status).toBe(200)
      expect((answer.body as Pod).metadata).toMatchObject({deletionGracePeriodSeconds: 30})
      expect((answer.body as Pod).metadata.deletionTimestamp).toBeDefined()
      // 30 s scaled by 0.01.
      await until('debug gone', () => {
        t.kube.tick()
        return !t.kube.get('pods', 'default', 'debug')
      })
      expect((await call(t.kube, 'DELETE', `${NS}/pods/cache-0?gracePeriodSeconds=0`)).status).toBe(200)
      expect(t.kube.get('pods', 'default', 'cache-0')).toBeUndefined()

      t.kube.setFaults({stuckPods: ['default/stuck']})
      await call(t.kube, 'POST', `${NS}/pods`, pod('stuck', {}, 'w2'))
      await call(t.kube, 'DELETE', `${NS}/pods/stuck`, {gracePeriodSeconds: 1, kind: 'DeleteOptions'})
      await new Promise((r) => setTimeout(r, 50))
      t.kube.tick()
      expect(t.kube.get<Pod>('pods', 'default', 'stuck')?.metadata.deletionTimestamp).toBeDefined()
    })

    it('creates and approves certificate signing requests', async () => {
      const csr = {apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: {name: 'node-csr-w3'}, spec: {request: 'LS0t', signerName: 'kubernetes.io/kube-apiserver-client-kubelet', usages: ['client auth']}}
      expect((await call(t.kube, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', csr)).status).toBe(201)
      const approved = await call(t.kube, 'PUT', '/apis/certificates.k8s.io/v1/certificatesigningrequests/node-csr-w3/approval', {...csr, status: {conditions: [{message: 'ok', reason: 'KubectlApprove', status: 'True', type: 'Approved'}]}})
      expect(approved.body).toMatchObject({status: {conditions: [{type: 'Approved'}]}})
    })
  })

  describe('eviction', () => {
    const evict = (name: string) => call(t.kube, 'POST', `${NS}/pods/${name}/eviction`, {apiVersion: 'policy/v1', kind: 'Eviction', metadata: {name, namespace: 'default'}})
    const webPods = () => t.kube.list<Pod>('pods', 'default').filter((p) => p.metadata.labels?.app === 'web' && !p.metadata.deletionTimestamp)

    it('allows an eviction the PDB permits (201), then refuses the next with 429 and the budget cause', async () => {
      const [first, second] = webPods()
      const ok = await evict(first?.metadata.name ?? '')
      expect(ok.status).toBe(201)
      expect(ok.body).toMatchObject({kind: 'Status', status: 'Success'})
      expect(t.kube.get<Pod>('pods', 'default', first?.metadata.name ?? '')?.status?.conditions).toContainEqual(expect.objectContaining({reason: 'EvictionByEvictionAPI', type: 'DisruptionTarget'}))
      const refused = await evict(second?.metadata.name ?? '')
      expect(refused.status).toBe(429)
      expect(refused.body).toEqual({
        apiVersion: 'v1',
        code: 429,
        details: {causes: [{message: 'The disruption budget web needs 2 healthy pods and has 2 currently', reason: 'DisruptionBudget'}]},
        kind: 'Status',
        message: "Cannot evict pod as it would violate the pod's disruption budget.",
        metadata: {},
        reason: 'TooManyRequests',
        status: 'Failure',
      })
      // The ReplicaSet replaces the evicted pod; once it is Ready the budget allows one more. With an
      // integer minAvailable, expectedPods counts every selected pod, the terminating one included.
      t.kube.tick()
      expect(t.kube.get<PodDisruptionBudget>('poddisruptionbudgets', 'default', 'web')?.status).toMatchObject({currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1, expectedPods: 4})
      expect((await evict(second?.metadata.name ?? '')).status).toBe(201)
    })

    it('answers 500 when several PDBs select the pod, 404 for a missing pod', async () => {
      await call(t.kube, 'POST', '/apis/policy/v1/namespaces/default/poddisruptionbudgets', {metadata: {name: 'web-extra'}, spec: {maxUnavailable: 1, selector: {matchLabels: {app: 'web'}}}})
      const several = await evict(webPods()[0]?.metadata.name ?? '')
      expect(several.status).toBe(500)
      expect(several.body).toEqual({apiVersion: 'v1', code: 500, kind: 'Status', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', metadata: {}, status: 'Failure'})
      const missing = await evict('nope')
      expect(missing.status).toBe(404)
      expect(missing.body).toMatchObject({message: 'pods "nope" not found', reason: 'NotFound'})
    })

    it('computes maxUnavailable budgets from the Deployment scale, and a NotReady node makes its pods unhealthy', async () => {
      expect(t.kube.get<PodDisruptionBudget>('poddisruptionbudgets', 'default', 'api')?.status).toMatchObject({currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1, expectedPods: 2})
      const node = t.kube.list<Pod>('pods', 'default').find((p) => p.metadata.labels?.app === 'api')?.spec.nodeName ?? ''
      t.kube.nodeReady(node, false)
      t.kube.tick()
      expect(t.kube.get<Node>('nodes', undefined, node)?.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({reason: 'NodeStatusUnknown', status: 'Unknown'})
      expect(t.kube.get<PodDisruptionBudget>('poddisruptionbudgets', 'default', 'api')?.status).toMatchObject({currentHealthy: 1, disruptionsAllowed: 0})
      t.kube.nodeReady(node, true)
      t.kube.tick()
      expect(t.kube.get<PodDisruptionBudget>('poddisruptionbudgets', 'default', 'api')?.status?.disruptionsAllowed).toBe(1)
    })
  })

  describe('controllers', () => {
    it('keeps one DaemonSet pod per node, mirror pods for static pods, and schedules around cordoned nodes', async () => {
      const ds = t.kube.list<Pod>('pods', 'monitoring')
      expect(ds.map((p) => p.spec.nodeName).sort()).toEqual(['cp1', 'w1', 'w2'])
      const mirror = t.kube.get<Pod>('pods', 'kube-system', 'kube-apiserver-cp1')
      expect(mirror?.metadata.annotations?.['kubernetes.io/config.mirror']).toBeDefined()
      expect(mirror?.metadata.ownerReferences?.[0]).toMatchObject({controller: true, kind: 'Node', name: 'cp1'})
      await call(t.kube, 'DELETE', '/api/v1/namespaces/kube-system/pods/kube-apiserver-cp1?gracePeriodSeconds=0')
      t.kube.tick()
      expect(t.kube.get<Pod>('pods', 'kube-system', 'kube-apiserver-cp1')?.metadata.uid).not.toBe(mirror?.metadata.uid)

      await call(t.kube, 'PATCH', '/api/v1/nodes/w1', {spec: {unschedulable: true}}, {contentType: 'application/strategic-merge-patch+json'})
      for (let i = 0; i < 4; i++) await call(t.kube, 'POST', `${NS}/pods`, pod(`free-${i}`))
      t.kube.tick()
      expect(t.kube.list<Pod>('pods', 'default').filter((p) => p.metadata.name.startsWith('free-')).map((p) => p.spec.nodeName)).toEqual(['w2', 'w2', 'w2', 'w2'])
      expect(t.kube.get<Node>('nodes', undefined, 'w1')?.spec?.taints).toContainEqual(expect.objectContaining({effect: 'NoSchedule', key: 'node.kubernetes.io/unschedulable'}))
    })

    it('collects the pods of a deleted node', async () => {
      await call(t.kube, 'DELETE', '/api/v1/nodes/cp1')
      t.kube.tick()
      t.kube.tick()
      expect(t.kube.list<Pod>('pods').filter((p) => p.spec.nodeName === 'cp1')).toEqual([])
      expect(t.kube.list<Pod>('pods', 'monitoring')).toHaveLength(2)
    })

    it('collects the pods of a deleted Deployment', async () => {
      await call(t.kube, 'DELETE', '/apis/apps/v1/namespaces/default/deployments/api')
      t.kube.tick()
      t.kube.tick()
      expect(t.kube.list('replicasets', 'default').map((r) => r.metadata.name)).toEqual(['cache', expect.stringMatching(/^web-/)])
      expect(t.kube.list<Pod>('pods', 'default').filter((p) => p.metadata.labels?.app === 'api').every((p) => p.metadata.deletionTimestamp)).toBe(true)
    })
  })

  describe('watch', () => {
    /** Open a watch and collect event lines until `count` arrived. */
    const watch = (query: string, count: number, whileOpen: () => Promise<unknown> = async () => undefined) =>
      new Promise<Array<{object: {metadata: {name: string}; code?: number}; type: string}>>((resolve, reject) => {
        const events: Array<{object: {metadata: {name: string}}; type: string}> = []
        const req = request({ca: t.kube.caPem, cert: t.kube.pki.admin.certPem, host: t.kube.host, key: t.kube.pki.admin.keyPem, path: `/api/v1/namespaces/default/pods?watch=true&${query}`, port: t.kube.port}, (res) => {
          let buffer = ''
          res.on('data', (chunk: Buffer) => {
            buffer += chunk.toString('utf8')
            const lines = buffer.split('\n')
            buffer = lines.pop() ?? ''
            for (const line of lines) events.push(JSON.parse(line) as (typeof events)[number])
            if (events.length >= count) {
              req.destroy()
              resolve(events)
            }
          })
          res.on('end', () => resolve(events))
          whileOpen().catch(reject)
        })
        req.on('error', (error) => (events.length >= count ? undefined : reject(error)))
        req.end()
      })

    it('streams the current objects, then changes; resumes from a resourceVersion; 410 when too old', async () => {
      const initial = await watch('fieldSelector=metadata.name%3Ddebug', 2, () => call(t.kube, 'DELETE', `${NS}/pods/debug?gracePeriodSeconds=0`))
      expect(initial.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED debug', 'DELETED debug'])
      const rv = ((await call(t.kube, 'GET', `${NS}/pods`)).body as {metadata: {resourceVersion: string}}).metadata.resourceVersion
      await call(t.kube, 'POST', `${NS}/pods`, pod('later'))
      const resumed = await watch(`resourceVersion=${rv}`, 1)
      expect(resumed.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED later'])
      const expired = await watch('resourceVersion=1', 1)
      expect(expired[0]).toMatchObject({object: {code: 410, reason: 'Expired'}, type: 'ERROR'})
    })
  })

  describe('faults and the request log', () => {
    it('injects seeded errors and latency', async () => {
      const statuses = async () => {
        t.kube.setFaults({errors: [{path: '/api/v1/nodes', rate: 0.5, status: 503}], seed: 7})
        const out: number[] = []
        for (let i = 0; i < 12; i++) out.push((await call(t.kube, 'GET', '/api/v1/nodes')).status)
        return out
      }
      const first = await statuses()
      expect(await statuses()).toEqual(first)
      expect(first).toContain(200)
      expect(first).toContain(503)
      t.kube.setFaults({latency: [{method: 'GET', ms: 120, pathRegex: '^/api/v1/pods'}]})
      await call(t.kube, 'GET', '/api/v1/pods')
      expect(t.kube.requestLog.at(-1)?.latencyMs).toBe(120)
      expect(t.kube.requestLog.at(-1)?.durationMs).toBeGreaterThanOrEqual(120)
    })
  })
})
