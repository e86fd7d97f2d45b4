/**
 * Stopping and starting static pods the kubelet's way: a manifest moved out of the manifest folder
 * stops its pod, moved back starts it. Parked manifests wait beside the folder in this restore's own.
 */
import type {Step} from '../../engine/types.js'
import {MANIFESTS, parkedDir, type RestoreFacts, type RestoreParams, type RestoreUnit, runningContainers, targets, test, waitFor} from './facts.js'

type Direction = 'park' | 'unpark'

export interface ManifestMove {
  direction: Direction
  id: string
  /** Static pods, by manifest and container name (`kube-apiserver`). */
  pods: readonly string[]
  title: string
  /** After unparking: what must hold on the node before the unit is done. */
  ready?: (ctx: RestoreUnit) => Promise<void>
  /**
   * Wait for the containers to come up after unparking (default true). The API servers are not
   * waited for one by one: "Verify the cluster" waits for /readyz at the endpoint, which is what counts.
   */
  waitStarted?: boolean
}

const paths = (tag: string, pod: string): {live: string; parked: string} => ({live: `${MANIFESTS}/${pod}.yaml`, parked: `${parkedDir(tag)}/${pod}.yaml`})

export function moveManifests(move: ManifestMove): Step<RestoreFacts, RestoreParams> {
  const [from, to] = move.direction === 'park' ? (['live', 'parked'] as const) : (['parked', 'live'] as const)
  return {
    // Every control plane at once: a restored etcd has no quorum until a majority runs.
    concurrency: 16,
    id: move.id,
    title: move.title,
    targets,
    async check(ctx) {
      const session = await ctx.ssh(ctx.target!)
      for (const pod of move.pods) if (!(await test(session, ['test', '-e', paths(ctx.params.tag, pod)[to]], ctx.signal))) return false
      // Moved already (a resumed run): the wait is what may be left.
      await settle(ctx)
      return `${move.pods.join(', ')} ${move.direction === 'park' ? 'stopped' : 'started'}`
    },
    plan: (ctx) => move.pods.map((pod) => `move ${paths(ctx.params.tag, pod)[from]} to ${paths(ctx.params.tag, pod)[to]}`),
    async run(ctx) {
      const session = await ctx.ssh(ctx.target!)
      if (move.direction === 'park') await ctx.mutate(`create ${parkedDir(ctx.params.tag)}`, () => session.exec(['install', '-d', '-m', '0700', parkedDir(ctx.params.tag)], {signal: ctx.signal, sudo: true}))
      for (const pod of move.pods) {
        const p = paths(ctx.params.tag, pod)
        if (await test(session, ['test', '-e', p[to]], ctx.signal)) continue
        if (!(await test(session, ['test', '-e', p[from]], ctx.signal))) throw new Error(`${ctx.target!} has neither ${p.live} nor ${p.parked}: put the manifest back by hand, then kp resume`)
        await ctx.mutate(`move ${p[from]} to ${p[to]}`, () => session.exec(['mv', '-T', p[from], p[to]], {signal: ctx.signal, sudo: true}))
      }

      if (!ctx.dryRun) await settle(ctx)
    },
  }

  async function settle(ctx: RestoreUnit): Promise<void> {
    const session = await ctx.ssh(ctx.target!)
    for (const pod of move.direction === 'unpark' && move.waitStarted === false ? [] : move.pods) {
      const want = move.direction === 'park' ? 'gone' : 'running'
      await waitFor(ctx, `the ${pod} container on ${ctx.target!} ${want}`, async () => {
        const running = (await runningContainers(session, `^${pod}$`, ctx.signal)).length > 0
        return move.direction === 'park' ? !running : running
      })
    }

    if (move.direction === 'unpark') await move.ready?.(ctx)
  }
}
