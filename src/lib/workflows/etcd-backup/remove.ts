/** Remove the snapshot from the member: the copy on the laptop is whole and described, the node's temporary file goes. */
import type {Step} from '../../engine/types.js'
import {type BackupFacts, type BackupParams, onChosen, remoteSnapshot} from './facts.js'

export const removeFromNode: Step<BackupFacts, BackupParams> = {
  async check(ctx) {
    if (ctx.dryRun) return false
    const file = remoteSnapshot(ctx)
    const found = await (await ctx.ssh(ctx.target!)).exec(['sh', '-c', 'test -e "$1" || test -e "$1.part"', 'kp-test', file], {allowFailure: true, idempotent: true, signal: ctx.signal, sudo: true})
    return found.code === 0 ? false : `${file} is not on ${ctx.target!}`
  },
  id: 'remove-remote-snapshot',
  targets: onChosen,
  title: 'Remove the snapshot from the member',
  async run(ctx) {
    const file = remoteSnapshot(ctx)
    const session = await ctx.ssh(ctx.target!)
    await ctx.mutate(`remove ${file} from ${ctx.target!}`, () => session.exec(['rm', '-f', '--', file, `${file}.part`], {idempotent: true, signal: ctx.signal, sudo: true}))
  },
}
