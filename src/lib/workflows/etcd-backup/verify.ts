/** Verify the snapshot on the member: `etcdctl snapshot status` where it was saved, and its SHA-256 there. */
import type {Step} from '../../engine/types.js'
import {type BackupFacts, type BackupParams, onChosen, remoteSnapshot} from './facts.js'
import {nodeSnapshot} from './snapshot.js'

export const verifyOnNode: Step<BackupFacts, BackupParams> = {
  check: (ctx) => (ctx.facts.done ? `this run's backup is already on the laptop (${ctx.facts.done.file})` : false),
  id: 'verify-snapshot',
  plan: (ctx) => [`run etcdctl snapshot status and sha256sum on ${remoteSnapshot(ctx)} on ${ctx.target!}`],
  targets: onChosen,
  title: 'Verify the snapshot on the member',
  async run(ctx) {
    const s = await nodeSnapshot(ctx, ctx.target!)
    ctx.log(`revision ${s.status.revision}, ${s.status.totalKey} keys, ${s.size} bytes, hash ${s.status.hash}, SHA-256 ${s.sha256}`)
  },
}
