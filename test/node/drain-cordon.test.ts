/** kp node cordon and uncordon, and the node checks every node command makes first. */
import {afterEach, describe, expect, it} from 'vitest'

import {cordoned, journals, kp, stop, unitOf, type World, world, writes} from './drain-world.js'

let w: World | undefined
afterEach(async () => {
  if (w) await stop(w.t)
  w = undefined
})

describe('kp node cordon and uncordon', () => {
  it('cordon, cordon again (skipped), uncordon, uncordon again (skipped)', async () => {
    w = await world()

    const first = await kp(w, ['node', 'cordon', 'w1'])
    expect(first.code).toBe(0)
    expect(cordoned(w.t, 'w1')).toBe(true)
    const again = await kp(w, ['node', 'cordon', 'w1'])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('w1 was already cordoned.')
    expect(unitOf(journals(w)[1], 'cordon')).toMatchObject({skippedReason: 'already cordoned', status: 'skipped'})

    const back = await kp(w, ['node', 'uncordon', 'w1'])
    expect(back.code).toBe(0)
    expect(cordoned(w.t, 'w1')).toBe(false)
    const backAgain = await kp(w, ['node', 'uncordon', 'w1'])
    expect(backAgain.stdout).toContain('w1 was already schedulable.')

    expect(writes(w.t.kube.requestLog)).toEqual(['PATCH /api/v1/nodes/w1', 'PATCH /api/v1/nodes/w1'])
  })

  it('--dry-run says what it would do and sends only GETs', async () => {
    w = await world()

    const result = await kp(w, ['node', 'cordon', 'w1', '--dry-run'])

    expect(result.code).toBe(0)
    expect(result.stdout).toContain('w1: would cordon w1')
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })

  it('a node kp.yaml does not list is a usage error', async () => {
    w = await world()

    const result = await kp(w, ['node', 'drain', 'w2'])

    expect(result.code).toBe(2)
    expect(result.stderr).toContain('kp.yaml has no node w2')
    expect(w.t.kube.requestLog).toEqual([])
  })

  it('a node of kp.yaml the cluster does not know is a usage error naming the nodes it has', async () => {
    w = await world({nodes: ['cp1', 'w2']})

    const result = await kp(w, ['node', 'cordon', 'w1'])

    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/node w1 is in kp\.yaml but not in the cluster at https:\/\/127\.0\.0\.1:\d+; its nodes are cp1, w2/)
    expect(writes(w.t.kube.requestLog)).toEqual([])
  })
})
