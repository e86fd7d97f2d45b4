/** kp node drain against the fake Kubernetes API, run as a user runs it. */
import {existsSync} from 'node:fs'
import path from 'node:path'

import {afterEach, describe, expect, it} from 'vitest'

import {until} from '../lab/kube/helpers.js'
import {parseEnvelope} from '../helpers/cli.js'
import {cordonByHand, cordoned, EVICTION, idOf, isDaemonSetPod, journals, kp, patchPdb, podsOn, removed, startKp, stop, unitOf, type World, world, writes} from './drain-world.js'

let w: World | undefined
afterEach(async () => {
  if (w) await stop(w.t)
  w = undefined
})

const webOnW1 = (x: World): string[] => podsOn(x.t, 'w1').filter((p) => p.metadata.labels?.app === 'web').map((p) => idOf(p))
const leftOnW1 = (x: World): string[] => podsOn(x.t, 'w1').filter((p) => !isDaemonSetPod(p)).map((p) => idOf(p))

describe('the preflight refuses before anything changes (exit 4, node not cordoned)', () => {
  it('a PodDisruptionBudget that needs every pod it has, named with its numbers and pods', async () => {
    w = await world()
    patchPdb(w.t, 'web', {minAvailable: 3})
    const web = webOnW1(w)
    expect(web.length).toBeGreaterThan(0)

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data'])

    expect(result.code).toBe(4)
    expect(result.stderr).toContain(`pods whose PodDisruptionBudget needs every pod it has, so no eviction can succeed (scale the workload up or relax the budget; --disable-eviction bypasses it): ${web.join(', ')}`)
    expect(result.stderr).toContain('PodDisruptionBudget default/web allows 0 disruptions (needs 3 healthy pods and has 3)')
    expect(result.stderr).toContain('Nothing was changed: w1 is not cordoned.')
    expect(result.stderr).toContain('Runbook: runbooks/node-drain.md § Check every pod can be evicted')
    expect(cordoned(w.t, 'w1')).toBe(false)
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })

  it('an unmanaged pod without --force', async () => {
    w = await world()

    const result = await kp(w, ['node', 'drain', 'w1', '--delete-emptydir-data'])

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('pods that declare no controller, so nothing re-creates them (--force deletes them): default/debug')
    expect(result.stderr).not.toContain('cache-0')
    expect(cordoned(w.t, 'w1')).toBe(false)
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })

  it('an emptyDir pod without --delete-emptydir-data, and every reason at once', async () => {
    w = await world()

    const one = await kp(w, ['node', 'drain', 'w1', '--force'])
    const both = await kp(w, ['node', 'drain', 'w1', '--json'])

    expect(one.code).toBe(4)
    expect(one.stderr).toContain('pods with emptyDir volumes, whose data is lost when they go (--delete-emptydir-data evicts them): default/cache-0')
    expect(one.stderr).not.toContain('default/debug')
    expect(both.code).toBe(4)
    const envelope = parseEnvelope(both.stdout)
    expect(envelope.error).toMatchObject({exitCode: 4, kind: 'refused'})
    expect(envelope.error?.message).toMatch(/--delete-emptydir-data evicts them\): default\/cache-0; .*--force deletes them\): default\/debug/)
    expect(cordoned(w.t, 'w1')).toBe(false)
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })
})

describe('evictions a PodDisruptionBudget refuses', () => {
  it('are retried until the budget allows them, then the drain finishes', async () => {
    w = await world()
    const web = webOnW1(w)
    const expected = leftOnW1(w)
    w.t.kube.setFaults({blockPdbs: ['default/web']})
    const run = startKp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data'])
    const refused = (): boolean => w!.t.kube.requestLog.some((e) => e.method === 'POST' && e.status === 429 && web.some((id) => e.path.endsWith(`/${id.split('/')[1]}/eviction`)))
    await until('a web eviction refused', refused, 20_000)
    await until('a second refusal (kp retries)', () => w!.t.kube.requestLog.filter((e) => e.method === 'POST' && e.status === 429).length >= 2 * web.length, 20_000)

    w.t.kube.setFaults({})
    const result = await run.done

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('retrying every 100ms')
    expect(cordoned(w.t, 'w1')).toBe(true)
    expect(leftOnW1(w)).toEqual([])
    expect(removed(w.t.kube.requestLog)).toEqual(expected)
  })

  it('time out naming the budget and its pods; the node is schedulable again since it was before', async () => {
    w = await world()
    const web = webOnW1(w)
    w.t.kube.setFaults({blockPdbs: ['default/web']})

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--timeout', '2s'])

    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`Error: Step "Drain the node" failed: w1: timed out after 2s waiting for evictions; PodDisruptionBudget default/web allows 0 disruptions (needs 2 healthy pods and has 3) — blocking pods ${web.join(', ')}`)
    expect(result.stderr).toContain('Runbook: runbooks/node-drain.md § Drain the node')
    expect(result.stderr).toMatch(/Hint: A PodDisruptionBudget lets no more of its pods go.* Finish the run with "kp resume \S+"/)
    expect(cordoned(w.t, 'w1')).toBe(false)
    const journal = journals(w)[0]
    expect(unitOf(journal, 'drain')).toMatchObject({preState: {cordoned: false}, status: 'failed'})
    // Cordoned, then uncordoned again.
    expect(writes(w.t.kube.requestLog).filter((line) => line === 'PATCH /api/v1/nodes/w1')).toHaveLength(2)
  })

  it('time out and leave a cordon the operator set', async () => {
    w = await world()
    cordonByHand(w.t, 'w1')
    w.t.kube.setFaults({blockPdbs: ['default/web']})

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--timeout', '2s'])

    expect(result.code).toBe(1)
    expect(result.stderr).toContain('timed out after 2s waiting for evictions; PodDisruptionBudget default/web')
    expect(cordoned(w.t, 'w1')).toBe(true)
    expect(unitOf(journals(w)[0], 'drain')).toMatchObject({preState: {cordoned: true}, status: 'failed'})
    expect(writes(w.t.kube.requestLog).filter((line) => line.startsWith('PATCH'))).toEqual([])
  })
})

describe('--dry-run', () => {
  it('lists what would be evicted, left and refused, and sends only GET requests', async () => {
    w = await world()
    const web = webOnW1(w)
    const exporter = podsOn(w.t, 'w1').filter((p) => isDaemonSetPod(p)).map((p) => idOf(p))

    const refused = await kp(w, ['node', 'drain', 'w1', '--dry-run'])
    const allowed = await kp(w, ['node', 'drain', 'w1', '--dry-run', '--force', '--delete-emptydir-data'])

    expect(refused.code).toBe(0)
    expect(refused.stdout).toContain('w1: would refuse, changing nothing: pods with emptyDir volumes, whose data is lost when they go (--delete-emptydir-data evicts them): default/cache-0; pods that declare no controller, so nothing re-creates them (--force deletes them): default/debug')
    expect(refused.stdout).toContain('w1: would stop at the check above; with its refusals allowed, it would then:')
    expect(allowed.code).toBe(0)
    expect(allowed.stdout).not.toContain('refuse')
    expect(allowed.stdout).toContain('w1: would cordon w1')
    for (const id of web) expect(allowed.stdout).toContain(`w1: would evict ${id} (PodDisruptionBudget default/web allows 1 disruption (needs 2 healthy pods and has 3))`)
    expect(allowed.stdout).toContain('w1: would evict default/debug (declares no controller: nothing re-creates it)')
    expect(allowed.stdout).toContain('w1: would evict default/cache-0')
    for (const id of exporter) expect(allowed.stdout).toContain(`w1: would leave ${id} in place (managed by DaemonSet monitoring/node-exporter)`)
    expect(w.t.kube.requestLog.length).toBeGreaterThan(0)
    expect(w.t.kube.requestLog.filter((e) => e.method !== 'GET')).toEqual([])
    expect(cordoned(w.t, 'w1')).toBe(false)
    expect(existsSync(path.join(w.stateDir, 'runs'))).toBe(false)
  })
})

describe('other flags', () => {
  it('--disable-eviction needs confirmation: without a terminal and --yes it refuses, changing nothing', async () => {
    w = await world()

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--disable-eviction'])

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('Drain a node ("Delete the pods of w1 without asking their PodDisruptionBudgets (--disable-eviction)?") needs confirmation, and there is no terminal to ask on.')
    expect(writes(w.t.kube.requestLog)).toEqual([])
    expect(cordoned(w.t, 'w1')).toBe(false)
  })

  it('--disable-eviction --yes deletes the pods without asking a blocked budget', async () => {
    w = await world()
    const expected = leftOnW1(w)
    w.t.kube.setFaults({blockPdbs: ['default/web']})

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--disable-eviction', '--yes', '--grace-period', '0'])

    expect(result.code).toBe(0)
    expect(leftOnW1(w)).toEqual([])
    expect(w.t.kube.requestLog.filter((e) => EVICTION.test(e.path))).toEqual([])
    expect(removed(w.t.kube.requestLog)).toEqual(expected)
    expect(w.t.kube.requestLog.filter((e) => e.method === 'DELETE').every((e) => e.status === 200)).toBe(true)
  })

  it('--pod-selector drains only the matching pods', async () => {
    w = await world()
    const api = podsOn(w.t, 'w1').filter((p) => p.metadata.labels?.app === 'api').map((p) => idOf(p))
    expect(api.length).toBeGreaterThan(0)

    const result = await kp(w, ['node', 'drain', 'w1', '--pod-selector', 'app=api'])

    expect(result.code).toBe(0)
    expect(removed(w.t.kube.requestLog)).toEqual(api)
    expect(leftOnW1(w)).toEqual(expect.arrayContaining(['default/cache-0', 'default/debug']))
    expect(cordoned(w.t, 'w1')).toBe(true)
  })

  it('--skip-wait-for-delete-timeout stops waiting for a pod that never finishes terminating', async () => {
    w = await world()
    w.t.kube.setFaults({stuckPods: ['default/cache-0']})

    const result = await kp(w, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--grace-period', '0', '--skip-wait-for-delete-timeout', '1'])

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('default/cache-0 has been terminating for more than 1s: no longer waiting for it (--skip-wait-for-delete-timeout)')
    expect(result.stdout).toContain('not waited for: default/cache-0')
    expect(leftOnW1(w)).toEqual(['default/cache-0'])
  })

  it('a bad --timeout is a usage error before anything changes', async () => {
    w = await world()

    const result = await kp(w, ['node', 'drain', 'w1', '--timeout', 'soon'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--timeout must be a duration longer than 0 like 90s or 10m, not "soon"')
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })
})
