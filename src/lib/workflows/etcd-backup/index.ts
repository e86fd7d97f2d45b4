/**
 * etcd-backup: a verified etcd snapshot on the laptop. Facts first (each control plane's member),
 * then the snapshot on a healthy member, checked there, copied with its SHA-256 checked end to end,
 * described by a sidecar, removed from the node, and retention. Reads like runbooks/etcd-backup.md.
 */
import type {Workflow} from '../../engine/types.js'
import {copySnapshot} from './copy.js'
import {type BackupFacts, type BackupParams, gatherFacts, initialFacts} from './facts.js'
import {removeFromNode} from './remove.js'
import {applyRetention} from './retention.js'
import {saveSnapshot} from './save.js'
import {writeSidecar} from './sidecar.js'
import {verifyOnNode} from './verify.js'

export const etcdBackup: Workflow<BackupFacts, BackupParams> = {
  initialFacts,
  name: 'etcd-backup',
  steps: [gatherFacts, saveSnapshot, verifyOnNode, copySnapshot, writeSidecar, removeFromNode, applyRetention],
  title: 'Back up etcd',
}
