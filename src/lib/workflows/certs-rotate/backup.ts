/**
 * An etcd backup first, once per run and before anything changes: etcd-backup's own steps, as they
 * are (its facts are part of certs-rotate's), each skipped with --no-backup. A resume finds the
 * run's backup already on the laptop (by run id) and passes over them.
 */
import type {AnyStep, Step} from '../../engine/types.js'
import {copySnapshot} from '../etcd-backup/copy.js'
import {gatherFacts as gatherMembers} from '../etcd-backup/facts.js'
import {removeFromNode} from '../etcd-backup/remove.js'
import {applyRetention} from '../etcd-backup/retention.js'
import {saveSnapshot} from '../etcd-backup/save.js'
import {writeSidecar} from '../etcd-backup/sidecar.js'
import {verifyOnNode} from '../etcd-backup/verify.js'
import {type RotateContext, type RotateFacts, type RotateParams, settingsOf} from './facts.js'

const NO_BACKUP = 'no etcd backup (--no-backup)'

/** One of etcd-backup's steps, skipped (no units at all, when it has targets) unless the run backs up. */
function unlessNoBackup(step: AnyStep, override: Partial<AnyStep> = {}): Step<RotateFacts, RotateParams> {
  const backup = (ctx: RotateContext) => settingsOf(ctx).backup
  return {
    ...step,
    ...(step.check || !step.gathersFacts ? {check: (ctx) => (backup(ctx) ? (step.check?.(ctx) ?? false) : NO_BACKUP)} : {}),
    ...(step.targets ? {targets: (ctx: RotateContext) => (backup(ctx) ? step.targets!(ctx) : [])} : {}),
    ...(step.gathersFacts ? {run: (ctx) => (backup(ctx) ? step.run(ctx) : undefined)} : {}),
    ...override,
  }
}

export const backupSteps: Array<Step<RotateFacts, RotateParams>> = [
  // etcd-backup's "Gather facts": every member as etcdctl sees it on its node, and the one to snapshot.
  unlessNoBackup(gatherMembers, {id: 'etcd-members', title: 'Gather the etcd members'}),
  unlessNoBackup(saveSnapshot),
  unlessNoBackup(verifyOnNode),
  unlessNoBackup(copySnapshot),
  unlessNoBackup(writeSidecar),
  unlessNoBackup(removeFromNode),
  unlessNoBackup(applyRetention),
]
