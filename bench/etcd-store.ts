// Benchmarks print numbers; they never assert. Run with `npx tsx bench/etcd-store.ts` (no build, no root).
//
// The lab's API server with its objects in a real etcd (3.4, one member on 127.0.0.1, TLS with a
// client certificate, as the store tests start it): 100 nodes and 30 Deployments of 100 replicas
// (~3000 pods, the size issue 13 asks about), controllers run by hand. Printed: the commit of the
// tick that creates the pods and of the ticks that run them, etcd's key count and database size, a
// second server's start-up (load from etcd) and reload(), and one write through the API.
import {mkdtempSync} from 'node:fs'
import {request} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {RESOURCES, startFakeKube, type FakeKube} from '../src/lib/lab/kube/index.js'
import {startEtcd} from '../test/lab/kube/etcd.js'

const NODES = 100
const DEPLOYMENTS = 30
const REPLICAS = 100
const def = (name: string) => RESOURCES.find((r) => r.name === name)!

const ms = (start: number) => `${(performance.now() - start).toFixed(0)} ms`

function patch(kube: FakeKube, apiPath: string, body: unknown): Promise<number> {
  const text = JSON.stringify(body)
  return new Promise((resolve, reject) => {
    const req = request({
      ca: kube.caPem, cert: kube.pki.admin.certPem, headers: {'Content-Length': Buffer.byteLength(text), 'Content-Type': 'application/merge-patch+json'},
      host: kube.host, key: kube.pki.admin.keyPem, method: 'PATCH', path: apiPath, port: kube.port,
    }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(text)
  })
}

const etcd = await startEtcd(1)
const option = {ca: etcd.pki.ca, cert: etcd.pki.cert, endpoints: () => etcd.members.map((m) => m.clientUrl), key: etcd.pki.key}
const fresh = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-bench-etcd-store-'))
  return {certDir: path.join(tmpdir(), 'kp-bench-etcd-store-pki'), controllerIntervalMs: 0, etcd: option, stateFile: path.join(dir, 'state.json')}
}
try {
  let start = performance.now()
  const kube = await startFakeKube(fresh())
  console.log(`start on an empty etcd (seeds namespaces): ${ms(start)}`)
  for (let i = 0; i < NODES; i++) kube.registerNode(`n${String(i).padStart(3, '0')}`, {controlPlane: i === 0})
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const app = `app${d}`
    kube.cluster.create(def('deployments'), 'default', {metadata: {name: app}, spec: {replicas: REPLICAS, selector: {matchLabels: {app}}, template: {metadata: {labels: {app}}, spec: {containers: [{image: 'nginx:1.27', name: app}]}}}})
  }
  start = performance.now()
  await kube.committed()
  console.log(`commit ${NODES} nodes (+ leases) and ${DEPLOYMENTS} Deployments: ${ms(start)}`)
  for (let round = 1; round <= 3; round++) {
    const pods = kube.list('pods').length
    start = performance.now()
    kube.tick()
    const tickMs = performance.now() - start
    await kube.committed()
    console.log(`tick ${round}: controllers ${tickMs.toFixed(0)} ms, then commit ${ms(start)} in all (pods ${pods} → ${kube.list('pods').length})`)
  }
  const running = kube.list('pods').filter((p) => (p as {status?: {phase?: string}}).status?.phase === 'Running').length
  const keys = (await etcd.etcdctl(['get', '/registry/', '--prefix', '--keys-only'])).stdout.split('\n').filter(Boolean).length
  const status = JSON.parse((await etcd.etcdctl(['endpoint', 'status', '-w', 'json'])).stdout) as Array<{Status: {dbSize: number}}>
  console.log(`etcd: ${keys} keys under /registry/, database ${(status[0]!.Status.dbSize / 1024 / 1024).toFixed(1)} MiB; ${running} pods running`)

  const pods = kube.list('pods')
  start = performance.now()
  for (const pod of pods) kube.cluster.patch(def('pods'), pod.metadata.namespace, pod.metadata.name, 'application/merge-patch+json', {metadata: {labels: {touched: 'yes'}}})
  const changeMs = performance.now() - start
  start = performance.now()
  await kube.committed()
  console.log(`commit of ${pods.length} changed pods in one batch (${Math.ceil(pods.length / 128)} transactions): ${ms(start)} (the changes in memory took ${changeMs.toFixed(0)} ms)`)

  const samples: number[] = []
  for (let i = 0; i < 50; i++) {
    start = performance.now()
    const code = await patch(kube, '/api/v1/nodes/n001', {metadata: {labels: {bench: String(i)}}})
    if (code !== 200) throw new Error(`PATCH answered ${code}`)
    samples.push(performance.now() - start)
  }
  samples.sort((a, b) => a - b)
  console.log(`one PATCH through the API, committed to etcd: median ${samples[25]!.toFixed(1)} ms, p90 ${samples[45]!.toFixed(1)} ms (50 runs)`)
  start = performance.now()
  kube.tick()
  await kube.committed()
  console.log(`a tick with nothing to change: ${ms(start)}`)
  await kube.close()

  start = performance.now()
  const second = await startFakeKube(fresh())
  console.log(`a second server's start-up, loading ${second.list('pods').length} pods from etcd, with its first controller tick: ${ms(start)}`)
  start = performance.now()
  const loaded = await second.reload()
  console.log(`reload() (range /registry/ in pages of 500, parse, replace the cache): ${loaded.objects} objects at revision ${loaded.revision}: ${ms(start)}`)
  await second.close()
} finally {
  await etcd.stopAll()
}
