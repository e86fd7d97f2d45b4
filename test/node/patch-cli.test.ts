/**
 * kp node patch against the fake Kubernetes API, without SSH: everything the check refuses before
 * it logs in to a node (usage, the cluster, etcd's quorum, the drain's preflight, --not-after), and
 * that nothing is written to the cluster when it does. The run with real nodes is the lab's test.
 */
import {afterEach, describe, expect, it} from 'vitest'

import type {Pod} from '../../src/lib/lab/kube/index.js'
import {until} from '../lab/kube/helpers.js'
import {cordoned, journals, kp, patchPdb, stop, type World, world, writes} from './drain-world.js'

let w: World | undefined
afterEach(async () => {
  if (w) await stop(w.t)
  w = undefined
})

const refusedBeforeLogin = (x: World) => {
  expect(cordoned(x.t, 'w1')).toBe(false)
  expect(cordoned(x.t, 'cp1')).toBe(false)
  expect(writes(x.t.kube.requestLog)).toEqual([])
}

describe('kp node patch refuses before it touches a node', () => {
  it('needs the nodes named, or --all, not both', async () => {
    w = await world()
    const none = await kp(w, ['node', 'patch'])
    const both = await kp(w, ['node', 'patch', 'w1', '--all'])
    const unknown = await kp(w, ['node', 'patch', 'w9'])

    expect([none.code, both.code, unknown.code]).toEqual([2, 2, 2])
    expect(none.stderr).toContain('name the nodes to patch, or give --all')
    expect(both.stderr).toContain('name the nodes or give --all, not both')
    expect(unknown.stderr).toContain('kp.yaml has no node w9')
    expect(await kp(w, ['node', 'patch', 'w1', '--not-after', 'someday'])).toMatchObject({code: 2, stderr: expect.stringContaining('--not-after must be a time') as unknown})
  })

  it('another node not Ready: refused (exit 4), naming it, with the node untouched', async () => {
    w = await world()
    w.t.kube.nodeReady('w2', false)
    const result = await kp(w, ['node', 'patch', 'w1', '--force', '--delete-emptydir-data'])

    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toContain('not patching w1: w2 is not Ready')
    expect(result.stderr).toContain('Runbook: runbooks/node-patch.md § Check the cluster and the node')
    refusedBeforeLogin(w)
  })

  it("a control plane while another etcd member is down: refused for etcd's quorum", async () => {
    w = await world()
    w.t.kube.registerNode('cp2', {controlPlane: true})
    await until('etcd-cp2 to be Ready', () => w!.t.kube.get<Pod>('pods', 'kube-system', 'etcd-cp2')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true)
    w.t.kube.containerRunning('kube-system', 'etcd-cp2', false)
    await until('etcd-cp2 to be not Ready', () => w!.t.kube.get<Pod>('pods', 'kube-system', 'etcd-cp2')?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === false)
    const result = await kp(w, ['node', 'patch', 'cp1'])

    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toContain("etcd member etcd-cp2")
    expect(result.stderr).toContain("taking cp1's member down as well could lose etcd's quorum")
    refusedBeforeLogin(w)
  })

  it('a PodDisruptionBudget that can never allow an eviction: refused before cordoning', async () => {
    w = await world()
    patchPdb(w.t, 'web', {minAvailable: 3})
    const result = await kp(w, ['node', 'patch', 'w1', '--force', '--delete-emptydir-data'])

    expect(result.code, result.stderr).toBe(4)
    expect(result.stderr).toContain('PodDisruptionBudget default/web allows 0 disruptions (needs 3 healthy pods and has 3)')
    expect(result.stderr).toContain('Nothing was changed: w1 is not cordoned.')
    refusedBeforeLogin(w)
  })

  it('--not-after in the past: stops before the first node with exit 5, naming the nodes not started', async () => {
    w = await world()
    const result = await kp(w, ['node', 'patch', '--all', '--not-after', '2020-01-01T00:00:00Z'])

    expect(result.code, result.stderr).toBe(5)
    expect(result.stderr).toContain('--not-after 2020-01-01T00:00:00.000Z has passed: no node is started after it. Done: none; not started: w1, cp1.')
    expect(result.stderr).toContain('kp node patch w1 cp1')
    refusedBeforeLogin(w)
    // Workers first: the check of w1 stopped the run; cp1 was never looked at.
    const journal = journals(w).at(-1)
    expect(journal?.steps.find((s) => s.id === 'check')?.units.map((u) => `${u.target ?? ''} ${u.status}`)).toEqual(['w1 failed'])
  })

  it('--dry-run plans from the same checks, and --control-planes-first reverses the order', async () => {
    w = await world()
    const result = await kp(w, ['node', 'patch', '--all', '--control-planes-first', '--not-after', '2020-01-01T00:00:00Z', '--dry-run'])

    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/cp1: would stop here: --not-after 2020-01-01T00:00:00.000Z has passed[^\n]*Done: none; not started: cp1, w1\./)
    expect(result.stdout).toContain('w1: already done (the check stops here)')
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })
})
