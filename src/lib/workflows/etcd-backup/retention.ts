/**
 * Apply retention: keep the newest N of kp's backups (--keep, else backup.keep), never the one this
 * run wrote, never a file kp did not write (a .db without kp's sidecar); also the leftovers of runs
 * killed mid-write.
 */
import {rmSync} from 'node:fs'
import path from 'node:path'

import type {Step, UnitContext} from '../../engine/types.js'
import {deleteBackup, leftovers, listBackups, retentionVictims} from '../../etcd/backups.js'
import type {BackupFacts, BackupParams} from './facts.js'

function victims(ctx: UnitContext<BackupFacts, BackupParams>) {
  const justWritten = ctx.facts.done ? path.basename(ctx.facts.done.file) : undefined
  // A folder given with --output may hold other clusters' backups: each cluster's N are its own.
  const ours = listBackups(ctx.facts.dir).filter((e) => e.sidecar.cluster === ctx.config.config.cluster.name)
  return {backups: retentionVictims(ours, ctx.facts.keep, justWritten), stale: leftovers(ctx.facts.dir)}
}

export const applyRetention: Step<BackupFacts, BackupParams> = {
  check(ctx) {
    const {backups, stale} = victims(ctx)
    return backups.length === 0 && stale.length === 0 ? `at most ${ctx.facts.keep} backups, nothing to delete` : false
  },
  id: 'apply-retention',
  title: 'Apply retention',
  async run(ctx) {
    const {backups, stale} = victims(ctx)
    for (const entry of backups) await ctx.mutate(`delete ${entry.file} and its sidecar (keep ${ctx.facts.keep})`, () => deleteBackup(entry))
    for (const file of stale) await ctx.mutate(`delete ${file}, left by an interrupted run`, () => rmSync(file, {force: true}))
  },
}
