/**
 * Each fault moves the right check to the right status and exit code: the built kp health against
 * fresh in-process fakes (Kubernetes, and Proxmox for the proxmox check).
 */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import type {Node, Pod} from '../../src/lib/lab/kube/index.js'
import {call, until} from '../lab/kube/helpers.js'
import {NODE} from '../proxmox/helpers.js'
import {connect} from '../proxmox/helpers.js'
import {type HealthLab, type HealthLabOptions, settled, startHealthLab} from './helpers.js'

describe('kp health checks', () => {
  let lab: HealthLab | undefined
  afterEach(async () => {
    await lab?.close()
    lab = undefined
  })
  const start = async (options: HealthLabOptions = {}) => (lab = await startHealthLab(options))

  it('a healthy cluster and Proxmox host: every check OK, exit 0, one aligned line per check', async () => {
    const {run} = await start({proxmox: true})
    const result = await run()
    expect(result.code).toBe(0)
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^kp health testlab: OK \(9 ok\) in \d+\.\d\ds$/)
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/))
    expect(rows.map((r) => r[0])).toEqual(['api', 'etcd', 'nodes', 'kube-system', 'workloads', 'pdbs', 'csrs', 'apiserver-certificate', 'proxmox'])
    expect(rows.every((r) => r[1] === 'OK')).toBe(true)
    // Aligned: every status starts in the same column.
    expect(new Set(lines.slice(1).map((l) => l.indexOf(' OK ') + 1)).size).toBe(1)
    expect(result.stdout).not.toContain('\u001B[')
    expect(result.stderr).toBe('')
  })

  it('a NotReady node: nodes CRITICAL, exit 2', async () => {
    const {kube, report} = await start()
    kube.nodeReady('w1', false)
    await until('w1 NotReady', () => kube.get<Node>('nodes', undefined, 'w1')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status !== 'True'))
    const r = await report()
    expect(r.status('nodes')).toBe('CRITICAL')
    expect(r.reason('nodes')).toContain('w1 NotReady (NodeStatusUnknown: Kubelet stopped posting node status.)')
    expect(r.report.status).toBe('CRITICAL')
    expect(r.code).toBe(2)
  })

  it('a cordoned node: nodes WARNING, exit 1', async () => {
    const {kube, report} = await start()
    await call(kube, 'PATCH', '/api/v1/nodes/w2', {spec: {unschedulable: true}}, {contentType: 'application/strategic-merge-patch+json'})
    const r = await report()
    expect(r.status('nodes')).toBe('WARNING')
    expect(r.reason('nodes')).toBe('w2 cordoned')
    expect(r.report.checks.filter((c) => c.status !== 'OK').map((c) => c.name)).toEqual(['nodes'])
    expect(r.code).toBe(1)
  })

  it('node pressure: nodes WARNING naming the condition', async () => {
    const {kube, report} = await start()
    kube.setFaults({nodePressure: {w2: ['DiskPressure']}})
    await until('pressure', () => kube.get<Node>('nodes', undefined, 'w2')?.status?.conditions?.some((c) => c.type === 'DiskPressure' && c.status === 'True'))
    const r = await report()
    expect(r.status('nodes')).toBe('WARNING')
    expect(r.reason('nodes')).toBe('w2 DiskPressure')
    expect(r.code).toBe(1)
  })

  it('a kubelet newer than the API server: nodes CRITICAL for the skew', async () => {
    const {kube, report} = await start()
    kube.registerNode('w3', {kubeletVersion: 'v1.32.1'})
    const r = await report()
    expect(r.status('nodes')).toBe('CRITICAL')
    expect(r.reason('nodes')).toContain('w3 kubelet v1.32.1 is newer than the API server v1.31.8')
    expect(r.code).toBe(2)
  })

  it('a PodDisruptionBudget that blocks drains: pdbs WARNING naming it, exit 1', async () => {
    const {kube, report} = await start()
    kube.setFaults({blockPdbs: ['default/web']})
    const r = await report()
    expect(r.status('pdbs')).toBe('WARNING')
    expect(r.reason('pdbs')).toMatch(/^default\/web allows no disruption/)
    expect(r.reason('pdbs')).not.toContain('default/api')
    expect(r.code).toBe(1)
  })

  it('a pending CSR: csrs WARNING with the count and name; approved ones do not count', async () => {
    const {kube, report} = await start()
    const csr = (name: string) => ({
      metadata: {name},
      spec: {request: Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\n').toString('base64'), signerName: 'kubernetes.io/kubelet-serving', usages: ['digital signature', 'server auth']},
    })
    const base = '/apis/certificates.k8s.io/v1/certificatesigningrequests'
    expect((await call(kube, 'POST', base, csr('csr-w1-serving'))).status).toBe(201)
    expect((await call(kube, 'POST', base, csr('csr-approved'))).status).toBe(201)
    const approved = (await call(kube, 'GET', `${base}/csr-approved`)).body as {status?: unknown}
    const approval = {...approved, status: {conditions: [{message: 'approved by test', reason: 'Test', status: 'True', type: 'Approved'}]}}
    expect((await call(kube, 'PUT', `${base}/csr-approved/approval`, approval)).status).toBe(200)
    const r = await report()
    expect(r.status('csrs')).toBe('WARNING')
    expect(r.reason('csrs')).toBe('1 pending: csr-w1-serving')
    expect(r.code).toBe(1)
  })

  it('etcd unhealthy: etcd CRITICAL, and api CRITICAL naming the failing sub-check', async () => {
    const {kube, report} = await start()
    kube.setFaults({failingHealthChecks: ['etcd']})
    const r = await report()
    expect(r.status('etcd')).toBe('CRITICAL')
    expect(r.reason('etcd')).toContain('/readyz/etcd answered 500')
    expect(r.status('api')).toBe('CRITICAL')
    expect(r.reason('api')).toBe('livez failed: etcd; readyz failed: etcd')
    expect(r.code).toBe(2)
  })

  it('a failing readyz sub-check other than etcd: api CRITICAL naming it, etcd OK', async () => {
    const {kube, report} = await start()
    kube.setFaults({failingHealthChecks: ['informer-sync']})
    const r = await report()
    expect(r.reason('api')).toBe('readyz failed: informer-sync')
    expect(r.status('api')).toBe('CRITICAL')
    expect(r.status('etcd')).toBe('OK')
  })

  it('a kube-system pod that keeps restarting: kube-system WARNING, exit 1', async () => {
    const {kube, report} = await start()
    kube.setFaults({podRestarts: {'kube-system/kube-scheduler-cp1': 5}})
    await until('restarts', () => (kube.get<Pod>('pods', 'kube-system', 'kube-scheduler-cp1')?.status?.containerStatuses as Array<{restartCount: number}>)[0]?.restartCount === 5)
    const r = await report()
    expect(r.status('kube-system')).toBe('WARNING')
    expect(r.reason('kube-system')).toBe('kube-scheduler-cp1 restarted 5 times')
    expect(r.code).toBe(1)
  })

  it('a kube-system pod in CrashLoopBackOff: kube-system CRITICAL, exit 2', async () => {
    const {kube, report} = await start()
    kube.setFaults({crashLoopPods: ['kube-system/etcd-cp1']})
    await until('crash loop', () => kube.get<Pod>('pods', 'kube-system', 'etcd-cp1')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False'))
    const r = await report()
    expect(r.status('kube-system')).toBe('CRITICAL')
    expect(r.reason('kube-system')).toBe('etcd-cp1 CrashLoopBackOff')
    expect(r.code).toBe(2)
  })

  it('a Deployment with unavailable replicas: workloads WARNING; with none available, CRITICAL', async () => {
    const {kube, report} = await start()
    const web = kube.list<Pod>('pods', 'default').filter((p) => p.metadata.labels?.app === 'web').map((p) => `default/${p.metadata.name}`)
    expect(web).toHaveLength(3)
    const available = () => (kube.get<{status?: {availableReplicas?: number}} & Pod>('deployments', 'default', 'web')?.status?.availableReplicas ?? 0)
    kube.setFaults({crashLoopPods: web.slice(0, 1)})
    await until('web degraded', () => available() === 2)
    const degraded = await report()
    expect(degraded.status('workloads')).toBe('WARNING')
    expect(degraded.reason('workloads')).toBe('deployment default/web 2/3 available')
    kube.setFaults({crashLoopPods: web})
    await until('web down', () => available() === 0)
    const down = await report()
    expect(down.status('workloads')).toBe('CRITICAL')
    expect(down.reason('workloads')).toBe('deployment default/web 0/3 available')
    expect(down.code).toBe(2)
    kube.setFaults({})
    await settled(kube)
    expect((await report()).status('workloads')).toBe('OK')
  })

  it('a stopped VM: proxmox CRITICAL naming the node, exit 2', async () => {
    const {pve, report} = await start({proxmox: true})
    const {pve: client} = connect(pve!.server)
    await client.stop(NODE, 211)
    await client.close()
    const r = await report()
    expect(r.status('proxmox')).toBe('CRITICAL')
    expect(r.reason('proxmox')).toBe('w1 (VM 211 on pve1) stopped')
    expect(r.report.checks.filter((c) => c.status !== 'OK').map((c) => c.name)).toEqual(['proxmox'])
    expect(r.code).toBe(2)
  })

  it.each([
    [20, 'WARNING', 1, /^expires \d{4}-\d\d-\d\d \(in 19 days\), within health.certificateWarnDays \(30\)$/],
    [5, 'CRITICAL', 2, /^expires \d{4}-\d\d-\d\d \(in 4 days\), within health.certificateCriticalDays \(7\)$/],
  ])('a serving certificate of %i days: apiserver-certificate %s', async (days, status, code, reason) => {
    // A PKI of its own: a cached short-lived certificate would age between test runs.
    const {report} = await start({kube: {certDir: mkdtempSync(path.join(tmpdir(), 'kp-health-pki-')), servingCertificateDays: days}})
    const r = await report()
    expect(r.status('apiserver-certificate')).toBe(status)
    expect(r.reason('apiserver-certificate')).toMatch(reason)
    expect(r.report.checks.find((c) => c.name === 'apiserver-certificate')?.certificate?.name).toBe('apiserver')
    expect(r.code).toBe(code)
  })
})
