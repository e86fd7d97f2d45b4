/** Restore into a new data directory: offline, with the running container's etcdctl, before anything stops. */
import type {Step} from '../../engine/types.js'
import {etcdctl, initialCluster, memberOf, oldDataDir, restoredDir, type RestoreFacts, type RestoreParams, snapshotOnNode, targets, test} from './facts.js'

export const restoreData: Step<RestoreFacts, RestoreParams> = {
  concurrency: 3,
  id: 'restore-data',
  title: 'Restore into a new data directory',
  targets,
  async check(ctx) {
    const session = await ctx.ssh(ctx.target!)
    if (await test(session, ['test', '-d', `${restoredDir(ctx.params.tag)}/member`], ctx.signal)) return 'restored'
    return (await test(session, ['test', '-d', `${oldDataDir(ctx.params.tag)}/member`], ctx.signal)) ? 'the restored data is already in place' : false
  },
  plan: (ctx) => [`restore ${snapshotOnNode(ctx.params.tag)} into ${restoredDir(ctx.params.tag)} as member ${memberOf(ctx, ctx.target).name}`],
  async run(ctx) {
    const session = await ctx.ssh(ctx.target!)
    const member = memberOf(ctx, ctx.target)
    const dir = restoredDir(ctx.params.tag)
    // etcdctl refuses an existing data dir: restore beside it, then rename, so a kill leaves either nothing or the whole.
    const partial = `${dir}.partial`
    await ctx.mutate(`restore the snapshot into ${dir}`, async () => {
      await session.exec(['rm', '-rf', partial], {signal: ctx.signal, sudo: true})
      await etcdctl(session, ['snapshot', 'restore', snapshotOnNode(ctx.params.tag), '--data-dir', partial, '--name', member.name,
        '--initial-advertise-peer-urls', member.peerUrl, '--initial-cluster', initialCluster(ctx.facts.members), '--initial-cluster-token', ctx.params.tag], ctx.signal)
      await session.exec(['mv', '-T', partial, dir], {signal: ctx.signal, sudo: true})
    })
  },
}
