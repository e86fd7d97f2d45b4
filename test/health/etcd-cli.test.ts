/**
 * The built `kp health --check etcd` (no --deep: no SSH) against the lab's fake Kubernetes API with
 * three control planes, each with its etcd mirror pod: a member's container down turns its pod
 * unready, and the check says how many members are Ready against the quorum.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {Pod} from '../../src/lib/lab/kube/index.js'
import {until} from '../lab/kube/helpers.js'
import {type HealthLab, settled, startHealthLab} from './helpers.js'

const ready = (lab: HealthLab, name: string) => lab.kube.get<Pod>('pods', 'kube-system', name)?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false

describe('kp health --check etcd against the fake API', () => {
  let lab: HealthLab
  beforeAll(async () => {
    lab = await startHealthLab()
    lab.kube.registerNode('cp2', {controlPlane: true})
    lab.kube.registerNode('cp3', {controlPlane: true})
    await settled(lab.kube)
  }, 60_000)
  afterAll(async () => {
    await lab?.close()
  })

  it('every member Ready: OK, 3 of 3', async () => {
    const r = await lab.report(['--check', 'etcd'])
    expect(r.status('etcd')).toBe('OK')
    expect(r.reason('etcd')).toBe('/readyz/etcd ok, 3 of 3 etcd members ready')
    expect(r.code).toBe(0)
  })

  it('one member’s container down: WARNING, 2 of 3, naming it; OK again once it is back', async () => {
    lab.kube.containerRunning('kube-system', 'etcd-cp2', false)
    await until('etcd-cp2 unready', () => !ready(lab, 'etcd-cp2'))
    const r = await lab.report(['--check', 'etcd'])
    expect(r.status('etcd')).toBe('WARNING')
    expect(r.reason('etcd')).toBe('2 of 3 etcd members ready; etcd-cp2 not ready (CrashLoopBackOff)')
    expect(r.code).toBe(1)
    const text = await lab.run(['--check', 'etcd'])
    expect(text.stdout).toMatch(/^etcd +WARNING +2 of 3 etcd members ready; etcd-cp2 not ready \(CrashLoopBackOff\)$/m)

    lab.kube.containerRunning('kube-system', 'etcd-cp2', true)
    await until('etcd-cp2 ready', () => ready(lab, 'etcd-cp2'))
    const back = await lab.report(['--check', 'etcd'])
    expect(back.status('etcd')).toBe('OK')
    expect(back.code).toBe(0)
  })

  it('two of three down while the fake’s /readyz/etcd still answers ok: WARNING, quorum at risk', async () => {
    lab.kube.containerRunning('kube-system', 'etcd-cp1', false)
    lab.kube.containerRunning('kube-system', 'etcd-cp3', false)
    try {
      await until('etcd-cp1 and etcd-cp3 unready', () => !ready(lab, 'etcd-cp1') && !ready(lab, 'etcd-cp3'))
      const r = await lab.report(['--check', 'etcd'])
      expect(r.status('etcd')).toBe('WARNING')
      expect(r.reason('etcd')).toBe('1 of 3 etcd members ready: quorum at risk; etcd-cp1 not ready (CrashLoopBackOff), etcd-cp3 not ready (CrashLoopBackOff)')
    } finally {
      lab.kube.containerRunning('kube-system', 'etcd-cp1', true)
      lab.kube.containerRunning('kube-system', 'etcd-cp3', true)
    }
  })

  it('/readyz/etcd failing with two of three down: CRITICAL, quorum lost', async () => {
    lab.kube.containerRunning('kube-system', 'etcd-cp1', false)
    lab.kube.containerRunning('kube-system', 'etcd-cp3', false)
    lab.kube.setFaults({failingHealthChecks: ['etcd']})
    try {
      await until('etcd-cp1 and etcd-cp3 unready', () => !ready(lab, 'etcd-cp1') && !ready(lab, 'etcd-cp3'))
      const r = await lab.report(['--check', 'etcd'])
      expect(r.status('etcd')).toBe('CRITICAL')
      expect(r.reason('etcd')).toBe('/readyz/etcd answered 500: internal server error: etcd check failed (injected fault); 1 of 3 etcd members ready: quorum lost; etcd-cp1 not ready (CrashLoopBackOff), etcd-cp3 not ready (CrashLoopBackOff)')
      expect(r.code).toBe(2)
    } finally {
      lab.kube.setFaults({failingHealthChecks: []})
      lab.kube.containerRunning('kube-system', 'etcd-cp1', true)
      lab.kube.containerRunning('kube-system', 'etcd-cp3', true)
    }
  })
})
