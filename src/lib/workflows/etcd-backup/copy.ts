/**
 * Copy the snapshot to the laptop: `cat` on the node (as root: etcd's data folder is root's),
 * streamed over the run's SSH connection into `.<name>.part` beside the backups, its SHA-256
 * computed as the bytes arrive and compared with the node's, then fsync and rename to
 * `<UTC time>-<node>.db` (0600). A copy cut half-way leaves nothing: the step fails, its `.part`
 * is removed, and `kp resume` copies again.
 */
import {mkdirSync, rmSync} from 'node:fs'
import path from 'node:path'

import type {Step} from '../../engine/types.js'
import {ExternalCommandError, errorMessage} from '../../errors.js'
import {leftovers} from '../../etcd/backups.js'
import {receiveFile} from '../../etcd/receive.js'
import {checkSnapshotFile} from '../../etcd/snapshot-file.js'
import {type BackupFacts, type BackupParams, onChosen, remoteSnapshot} from './facts.js'
import {nodeSnapshot} from './snapshot.js'

export const copySnapshot: Step<BackupFacts, BackupParams> = {
  async check(ctx) {
    if (ctx.facts.done) return `this run's backup is already on the laptop (${ctx.facts.done.file})`
    // A dry run saved no snapshot to compare with.
    if (ctx.dryRun) return false
    const s = await nodeSnapshot(ctx, ctx.target!)
    const file = path.join(ctx.facts.dir, s.name)
    try {
      // A copy renamed into place before kill -9: whole, but proven only by its hash.
      const here = await checkSnapshotFile(file, ctx.signal)
      if (here.sha256 === s.sha256 && here.problems.length === 0) return `already copied to ${file}`
    } catch {
      // not there yet
    }

    return false
  },
  id: 'copy-snapshot',
  plan: (ctx) => [`copy ${remoteSnapshot(ctx)} from ${ctx.target!} to ${ctx.facts.dir}/<UTC time>-${ctx.target!}.db`],
  targets: onChosen,
  title: 'Copy the snapshot to the laptop',
  async run(ctx) {
    const node = ctx.target!
    const s = await nodeSnapshot(ctx, node)
    const file = path.join(ctx.facts.dir, s.name)
    const session = await ctx.ssh(node)
    await ctx.mutate(`copy ${remoteSnapshot(ctx)} (${s.size} bytes) from ${node} to ${file}`, async () => {
      mkdirSync(ctx.facts.dir, {mode: 0o700, recursive: true})
      // Only one mutating run per cluster holds the lock: any .part or sidecar temp file here is a dead run's.
      for (const stale of leftovers(ctx.facts.dir)) {
        ctx.log(`remove ${stale}, left by an interrupted run`)
        rmSync(stale, {force: true})
      }

      const started = Date.now()
      try {
        await receiveFile(
          file,
          s,
          async (sink) => {
            await session.exec(['cat', remoteSnapshot(ctx)], {onStdoutBytes: sink, signal: ctx.signal, sudo: true, timeoutMs: 6 * 60 * 60_000})
          },
          // The SHA-256 proves the copy equals the node's file; this proves the file is a sound snapshot.
          async (part) => (await checkSnapshotFile(part, ctx.signal)).problems,
        )
      } catch (error) {
        const disk = (error as NodeJS.ErrnoException).code === 'ENOSPC' ? ' The laptop disk is full: free some space first.' : ''
        throw new ExternalCommandError(`copy of the snapshot from ${node} failed, nothing was kept under ${ctx.facts.dir}: ${errorMessage(error)}`, {
          cause: error,
          hint: `The snapshot stays on ${node} until the run ends.${disk}`,
        })
      }

      ctx.log(`copied ${s.size} bytes in ${((Date.now() - started) / 1000).toFixed(1)}s, SHA-256 ${s.sha256} as on ${node}`)
    })
  },
}
