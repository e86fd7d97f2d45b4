/**
 * What the node says about this run's snapshot: `etcdctl snapshot status` (hash, revision, keys,
 * size) and the file's SHA-256, size and time on the host. Read again after a resume (it is not
 * journaled), once per run (memo), from the file that stays on the node until the sidecar is written.
 */
import type {RunContext} from '../../engine/types.js'
import {ExternalCommandError} from '../../errors.js'
import {backupName} from '../../etcd/backups.js'
import {etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import {parseSnapshotStatus, type SnapshotStatus} from '../../etcd/parse.js'
import {type BackupFacts, type BackupParams, remoteSnapshot} from './facts.js'

export interface NodeSnapshot {
  node: string
  status: SnapshotStatus
  sha256: string
  size: number
  /** When etcdctl finished writing it (the node's clock): the backup's time and name. */
  takenAt: Date
  /** `<UTC time>-<node>.db` */
  name: string
}

export function nodeSnapshot(ctx: RunContext<BackupFacts, BackupParams>, node: string): Promise<NodeSnapshot> {
  return ctx.memo(`etcd-backup:snapshot@${node}`, async () => {
    const session = await ctx.ssh(node)
    const file = remoteSnapshot(ctx)
    const [status, sums] = await Promise.all([
      runEtcdctl(session, ['snapshot', 'status', file, '-w', 'json'], {idempotent: true, signal: ctx.signal, timeoutMs: 30 * 60_000}),
      session.exec(['sh', '-c', 'stat -c "%s %Y" "$1" && sha256sum "$1"', 'kp-sum', file], {allowFailure: true, idempotent: true, signal: ctx.signal, sudo: true, timeoutMs: 30 * 60_000}),
    ])
    if (sums.code !== 0) throw new ExternalCommandError(`cannot read ${file} on ${node}: ${sums.stderr.trim() || `exit ${sums.code}`}`, {hint: 'Was it removed? "kp resume" takes a new snapshot only in a new run: start one with "kp backup etcd".'})
    if (status.code !== 0) throw new ExternalCommandError(`etcdctl snapshot status says the snapshot on ${node} is not sound: ${etcdctlError(status)}`, {hint: 'Take a new one: "kp backup etcd" (another member with --node).'})
    const [sizeText, mtime, sha256] = sums.stdout.trim().split(/\s+/)
    const takenAt = new Date(Number(mtime) * 1000)
    return {name: backupName(takenAt, node), node, sha256: sha256!, size: Number(sizeText), status: parseSnapshotStatus(status.stdout), takenAt}
  })
}
