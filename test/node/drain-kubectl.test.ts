/**
 * kp node drain beside the real kubectl drain, each on its own copy of one seeded cluster (the fake
 * restarts from a copy of the other's state file, so the pods have the same names): the same pods
 * go, and a budget that never frees up makes both give up at their timeout.
 */
import {copyFileSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {KUBECTL, kubectl, type TestKube} from '../lab/kube/helpers.js'
import {runKp} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'
import {cordoned, isDaemonSetPod, podsOn, removed, startDemo, stop} from './drain-world.js'

if (!KUBECTL) console.warn('kubectl not found: skipping the comparison of kp node drain with kubectl drain')

const started: TestKube[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => stop(t)))
})

/** Two fakes with identical objects: one for kubectl, one for kp. */
async function twins(): Promise<[TestKube, TestKube]> {
  const a = await startDemo()
  // tick() flushes the store to the state file, which the twin starts from.
  a.kube.tick()
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-fake-kube-'))
  copyFileSync(a.stateFile, path.join(dir, 'state.json'))
  const b = await startDemo(dir)
  started.push(a, b)
  return [a, b]
}

function kpDrain(t: TestKube, args: string[]) {
  const config = writeTestConfig(t.dir, {kubeconfig: t.kubeconfig})
  return runKp(['node', 'drain', 'w1', ...args, '-c', config], {env: {KP_DRAIN_RETRY_MS: '100', KP_STATE_DIR: path.join(t.dir, 'state')}})
}

describe.skipIf(!KUBECTL)('kp node drain and kubectl drain', () => {
  it('evict the same pods from the same cluster', async () => {
    const [forKubectl, forKp] = await twins()
    const podsBefore = (t: TestKube): string[] => podsOn(t, 'w1').map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort()
    expect(podsBefore(forKp)).toEqual(podsBefore(forKubectl))

    const byKubectl = await kubectl(forKubectl, ['drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=60s'])
    const byKp = await kpDrain(forKp, ['--delete-emptydir-data', '--force', '--yes'])

    expect(byKubectl.code).toBe(0)
    expect(byKp.code).toBe(0)
    const evictedByKubectl = removed(forKubectl.kube.requestLog)
    expect(evictedByKubectl.length).toBeGreaterThan(3)
    expect(removed(forKp.kube.requestLog)).toEqual(evictedByKubectl)
    for (const t of [forKubectl, forKp]) {
      expect(cordoned(t, 'w1')).toBe(true)
      expect(podsOn(t, 'w1').every((p) => isDaemonSetPod(p))).toBe(true)
    }
  })

  it('both give up at their timeout while a budget blocks', async () => {
    const [forKubectl, forKp] = await twins()
    for (const t of [forKubectl, forKp]) t.kube.setFaults({blockPdbs: ['default/web']})

    const byKubectl = await kubectl(forKubectl, ['drain', 'w1', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=2s'])
    const byKp = await kpDrain(forKp, ['--delete-emptydir-data', '--force', '--timeout', '2s'])

    expect(byKubectl.code).not.toBe(0)
    expect(byKubectl.stderr).toContain('global timeout reached: 2s')
    expect(byKp.code).toBe(1)
    expect(byKp.stderr).toContain('timed out after 2s waiting for evictions; PodDisruptionBudget default/web allows 0 disruptions')
  })
})
