/** kill -9 in the middle of a drain, then kp resume finishes it: each pod evicted once, the node still cordoned. */
import {afterEach, describe, expect, it} from 'vitest'

import {until} from '../lab/kube/helpers.js'
import {cordoned, idOf, isDaemonSetPod, journals, kp, podsOn, removed, startKp, stop, unitOf, type World, world, writes} from './drain-world.js'

let w: World | undefined
afterEach(async () => {
  if (w) await stop(w.t)
  w = undefined
})

describe('kill -9 mid-drain, then kp resume', () => {
  it('finishes the drain: every pod evicted exactly once, the node cordoned once and left cordoned', async () => {
    w = await world()
    const x = w
    const toEvict = podsOn(x.t, 'w1').filter((p) => !isDaemonSetPod(p)).map((p) => idOf(p)).sort()
    // cache-0 never finishes terminating, so the drain is caught waiting for it.
    x.t.kube.setFaults({stuckPods: ['default/cache-0']})
    const {child, done} = startKp(x, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data'])
    const others = (): string[] => podsOn(x.t, 'w1').filter((p) => !isDaemonSetPod(p)).map((p) => idOf(p))
    await until('every pod evicted and all but cache-0 gone', () => removed(x.t.kube.requestLog).length === toEvict.length && others().join() === 'default/cache-0', 30_000)
    await until('kp waiting on cache-0', () => unitOf(journals(x)[0], 'drain')?.status === 'running')
    child.kill('SIGKILL')
    expect((await done).code).toBe(137)
    expect(cordoned(x.t, 'w1')).toBe(true)

    const resumed = startKp(x, ['resume'])
    // The killed attempt left the unit "running" in the journal: wait for the resumed attempt's own start.
    await until('the resumed drain waiting', () => unitOf(journals(x)[0], 'drain')?.attempts === 2 && unitOf(journals(x)[0], 'drain')?.status === 'running', 30_000)
    x.t.kube.setFaults({})
    const result = await resumed.done

    expect(result.code).toBe(0)
    expect(cordoned(x.t, 'w1')).toBe(true)
    expect(podsOn(x.t, 'w1').every((p) => isDaemonSetPod(p))).toBe(true)
    // One accepted eviction per pod across both attempts (a budget may have answered 429 before one).
    expect(removed(x.t.kube.requestLog)).toEqual(toEvict)
    expect(x.t.kube.requestLog.filter((e) => e.method === 'POST' && e.path.endsWith('/cache-0/eviction'))).toHaveLength(1)
    expect(writes(x.t.kube.requestLog).filter((line) => line.startsWith('PATCH'))).toEqual(['PATCH /api/v1/nodes/w1'])
    const journal = journals(x)[0]
    expect(journal?.status).toBe('done')
    expect(journal?.attempts.map((a) => a.status)).toEqual(['interrupted', 'done'])
    expect(unitOf(journal, 'drain')).toMatchObject({attempts: 2, preState: {cordoned: false}, status: 'done'})
    expect((await kp(x, ['runs', 'list', '--json'])).code).toBe(0)
  })
})

describe('a resume asks again for what the run was asked', () => {
  it('a drain started with --disable-eviction --yes, killed, is not resumed without --yes: exit 4, nothing changed; with --yes it finishes', async () => {
    w = await world()
    const x = w
    x.t.kube.setFaults({stuckPods: ['default/cache-0']})
    const {child, done} = startKp(x, ['node', 'drain', 'w1', '--force', '--delete-emptydir-data', '--disable-eviction', '--yes', '--grace-period', '0'])
    await until('kp cordoned w1 and waits on cache-0', () => unitOf(journals(x)[0], 'drain')?.status === 'running' && cordoned(x.t, 'w1'), 60_000)
    child.kill('SIGKILL')
    expect((await done).code).toBe(137)
    const before = {journal: journals(x)[0], writes: writes(x.t.kube.requestLog)}

    // No terminal (the test's stdin is not a TTY) and no --yes.
    const refused = await kp(x, ['resume'])

    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain('Delete the pods of w1 without asking their PodDisruptionBudgets (--disable-eviction)?')
    expect(refused.stderr).toContain(`kp resume ${before.journal!.runId} --yes`)
    expect(writes(x.t.kube.requestLog)).toEqual(before.writes)
    expect(journals(x)[0]?.attempts).toEqual(before.journal?.attempts)

    x.t.kube.setFaults({})
    const resumed = await kp(x, ['resume', '--yes'])

    expect(resumed.code).toBe(0)
    expect(podsOn(x.t, 'w1').every((p) => isDaemonSetPod(p))).toBe(true)
    expect(journals(x)[0]?.status).toBe('done')
  }, 180_000)
})
