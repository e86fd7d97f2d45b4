/**
 * Write the sidecar: `<UTC time>-<node>.json` beside the snapshot, atomically and only after it.
 * Its presence is what makes the .db a backup kp wrote: listing, verify and retention go by it.
 */
import path from 'node:path'

import {writeFileAtomicSync} from '../../atomic-write.js'
import type {Step} from '../../engine/types.js'
import {SIDECAR_FORMAT, SIDECAR_KIND, type Sidecar, sidecarFileOf} from '../../etcd/backups.js'
import {kpVersion} from '../../etcd/version.js'
import {type BackupFacts, type BackupParams, onChosen} from './facts.js'
import {nodeSnapshot} from './snapshot.js'

export const writeSidecar: Step<BackupFacts, BackupParams> = {
  check: (ctx) => (ctx.facts.done ? `already written (${ctx.facts.done.sidecarFile})` : false),
  id: 'write-sidecar',
  plan: (ctx) => [`write ${ctx.facts.dir}/<UTC time>-${ctx.target!}.json: cluster, node, versions, revision, keys, size, SHA-256`],
  targets: onChosen,
  title: 'Write the sidecar',
  async run(ctx) {
    const node = ctx.target!
    const s = await nodeSnapshot(ctx, node)
    const member = ctx.facts.members.find((m) => m.node === node)
    const file = path.join(ctx.facts.dir, s.name)
    const sidecar: Sidecar = {
      kind: SIDECAR_KIND,
      format: SIDECAR_FORMAT,
      file: s.name,
      cluster: ctx.config.config.cluster.name,
      node,
      etcdVersion: member?.version ?? '',
      kubernetesVersion: ctx.facts.kubernetesVersion,
      revision: s.status.revision,
      totalKeys: s.status.totalKey,
      snapshotHash: s.status.hash,
      dbSize: s.status.totalSize,
      size: s.size,
      sha256: s.sha256,
      createdAt: s.takenAt.toISOString(),
      kpVersion: kpVersion(),
      runId: ctx.runId,
    }
    await ctx.mutate(`write ${sidecarFileOf(file)}`, () => {
      writeFileAtomicSync(sidecarFileOf(file), `${JSON.stringify(sidecar, null, 2)}\n`, {mode: 0o600})
      ctx.facts.done = {file, sidecar, sidecarFile: sidecarFileOf(file)}
    })
  },
}
