/** Save a snapshot on the member: `etcdctl snapshot save` into etcd's data mount on the chosen node. */
import type {Step} from '../../engine/types.js'
import {ExternalCommandError} from '../../errors.js'
import {etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import {type BackupFacts, type BackupParams, onChosen, remoteSnapshot} from './facts.js'

export const saveSnapshot: Step<BackupFacts, BackupParams> = {
  check(ctx) {
    if (ctx.facts.done) return `this run's backup is already on the laptop (${ctx.facts.done.file})`
    // etcdctl writes <file>.part and renames it when complete: the file itself is whole.
    if (ctx.facts.members.find((m) => m.node === ctx.target)?.saved) return `already saved as ${remoteSnapshot(ctx)}`
    return false
  },
  id: 'save-snapshot',
  targets: onChosen,
  title: 'Save a snapshot on the member',
  async run(ctx) {
    const node = ctx.target!
    const session = await ctx.ssh(node)
    await ctx.mutate(`save an etcd snapshot on ${node} as ${remoteSnapshot(ctx)}`, async () => {
      const result = await runEtcdctl(session, ['snapshot', 'save', remoteSnapshot(ctx)], {signal: ctx.signal, timeoutMs: 60 * 60_000})
      if (result.code !== 0) {
        throw new ExternalCommandError(`etcdctl snapshot save on ${node} failed: ${etcdctlError(result)}`, {hint: 'Is the member healthy? "kp backup etcd --dry-run" shows each member; use --node to pick another.'})
      }
    })
  },
}
