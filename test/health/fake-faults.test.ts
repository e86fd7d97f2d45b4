/** The fake Kubernetes API's faults for kp health, read with a plain HTTPS client (no kp code). */
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {X509Certificate} from 'node:crypto'

import {afterEach, describe, expect, it} from 'vitest'

import type {Node, Pod} from '../../src/lib/lab/kube/index.js'
import {call, startTestKube, type TestKube, until} from '../lab/kube/helpers.js'

describe('the fake API server’s health faults', () => {
  let t: TestKube | undefined
  afterEach(async () => {
    await t?.kube.close()
    t = undefined
  })

  it('fails /readyz, /livez and /readyz/etcd the way the apiserver does, and heals', async () => {
    t = await startTestKube()
    t.kube.setFaults({failingHealthChecks: ['etcd']})
    const ready = await call(t.kube, 'GET', '/readyz', undefined, {accept: 'text/plain'})
    expect(ready.status).toBe(500)
    // Listed even without ?verbose, the reason withheld, as the real handler answers.
    expect(ready.body).toContain('[-]etcd failed: reason withheld')
    expect(ready.body).toContain('[+]ping ok')
    expect(ready.body).toMatch(/readyz check failed\n$/)
    expect((await call(t.kube, 'GET', '/livez?verbose')).body).toContain('[-]etcd failed: reason withheld')
    const etcd = await call(t.kube, 'GET', '/readyz/etcd')
    expect(etcd.status).toBe(500)
    expect(etcd.body).toMatch(/^internal server error: etcd check failed/)
    expect((await call(t.kube, 'GET', '/readyz/ping')).body).toBe('ok')
    t.kube.setFaults({})
    expect((await call(t.kube, 'GET', '/readyz')).body).toBe('ok')
  })

  it('reports node pressure with the kubelet’s reasons and the condition taints, and lifts them', async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1']})
    t.kube.setFaults({nodePressure: {w1: ['MemoryPressure', 'PIDPressure']}})
    const node = await until('pressure', () => {
      const n = t!.kube.get<Node>('nodes', undefined, 'w1')
      return n?.status?.conditions?.some((c) => c.type === 'MemoryPressure' && c.status === 'True') ? n : undefined
    })
    const memory = node.status?.conditions?.find((c) => c.type === 'MemoryPressure')
    expect(memory).toMatchObject({message: 'kubelet has insufficient memory available', reason: 'KubeletHasInsufficientMemory'})
    expect(node.status?.conditions?.find((c) => c.type === 'DiskPressure')?.status).toBe('False')
    expect(node.spec?.taints?.map((x) => x.key).sort()).toEqual(['node.kubernetes.io/memory-pressure', 'node.kubernetes.io/pid-pressure'])
    t.kube.setFaults({})
    const healed = await until('pressure lifted', () => {
      const n = t!.kube.get<Node>('nodes', undefined, 'w1')
      return n?.status?.conditions?.every((c) => c.type === 'Ready' || c.status === 'False') ? n : undefined
    })
    expect(healed.spec?.taints).toBeUndefined()
  })

  it('makes a pod restart and crash-loop, unready but Running, and start again', async () => {
    t = await startTestKube()
    t.kube.seedDemo({nodes: ['cp1', 'w1']})
    t.kube.setFaults({crashLoopPods: ['kube-system/etcd-cp1'], podRestarts: {'kube-system/kube-scheduler-cp1': 7}})
    const etcd = await until('crash loop', () => {
      const p = t!.kube.get<Pod>('pods', 'kube-system', 'etcd-cp1')
      return p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False') ? p : undefined
    })
    const status = (etcd.status?.containerStatuses as Array<{lastState?: {terminated?: {exitCode: number}}; ready: boolean; restartCount: number; state: {waiting?: {reason: string}}}>)[0]!
    expect(etcd.status?.phase).toBe('Running')
    expect(status.state.waiting?.reason).toBe('CrashLoopBackOff')
    expect(status.lastState?.terminated?.exitCode).toBe(1)
    expect(status.ready).toBe(false)
    expect(status.restartCount).toBeGreaterThanOrEqual(1)
    const scheduler = t.kube.get<Pod>('pods', 'kube-system', 'kube-scheduler-cp1')
    expect((scheduler?.status?.containerStatuses as Array<{restartCount: number}>)[0]?.restartCount).toBe(7)
    t.kube.setFaults({})
    await until('running again', () => t!.kube.get<Pod>('pods', 'kube-system', 'etcd-cp1')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
  })

  it('serves a certificate with the lifetime asked for', async () => {
    t = await startTestKube({certDir: mkdtempSync(path.join(tmpdir(), 'kp-health-pki-')), servingCertificateDays: 12})
    const cert = new X509Certificate(t.kube.pki.server.certPem)
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000
    expect(Math.round(days)).toBe(12)
  })
})
