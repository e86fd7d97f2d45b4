/** Swap in the restored data: the old member directory aside (kept), the restored one where the manifest looks. */
import type {Step} from '../../engine/types.js'
import {oldDataDir, restoredDir, type RestoreFacts, type RestoreParams, runningContainers, targets, test} from './facts.js'

const LIVE = '/var/lib/etcd/member'

export const swapData: Step<RestoreFacts, RestoreParams> = {
  concurrency: 16,
  destructive: true,
  id: 'swap-data',
  title: 'Swap in the restored data',
  targets,
  async check(ctx) {
    const session = await ctx.ssh(ctx.target!)
    const restored = await test(session, ['test', '-d', `${restoredDir(ctx.params.tag)}/member`], ctx.signal)
    return !restored && (await test(session, ['test', '-d', LIVE], ctx.signal)) && (await test(session, ['test', '-d', oldDataDir(ctx.params.tag)], ctx.signal)) ? 'swapped' : false
  },
  plan: (ctx) => [`move ${LIVE} to ${oldDataDir(ctx.params.tag)}/member`, `move ${restoredDir(ctx.params.tag)}/member to ${LIVE}`],
  async run(ctx) {
    const session = await ctx.ssh(ctx.target!)
    if ((await runningContainers(session, '^etcd$', ctx.signal)).length > 0) throw new Error(`etcd still runs on ${ctx.target!}: its data cannot be swapped under it`)
    const old = oldDataDir(ctx.params.tag)
    // Each move is one rename(2); a kill between them leaves a state the check and this run both recognise.
    await ctx.mutate(`move ${LIVE} to ${old}/member`, async () => {
      await session.exec(['install', '-d', '-m', '0700', old], {signal: ctx.signal, sudo: true})
      if ((await test(session, ['test', '-d', LIVE], ctx.signal)) && !(await test(session, ['test', '-e', `${old}/member`], ctx.signal))) {
        await session.exec(['mv', '-T', LIVE, `${old}/member`], {signal: ctx.signal, sudo: true})
      }
    })
    await ctx.mutate(`move ${restoredDir(ctx.params.tag)}/member to ${LIVE}`, async () => {
      if (await test(session, ['test', '-d', LIVE], ctx.signal)) throw new Error(`${LIVE} on ${ctx.target!} is neither the old data (moved to ${old}) nor the restored one: look before going on`)
      await session.exec(['mv', '-T', `${restoredDir(ctx.params.tag)}/member`, LIVE], {signal: ctx.signal, sudo: true})
    })
  },
}
