/**
 * An etcd backup first, once per run and before anything changes: etcd-backup's own steps, as they
 * are (their facts are part of upgrade-cluster's), the way certs-rotate takes its backup. A resume
 * finds the run's backup already on the laptop (by run id) and passes over them.
 */
import type {Step} from '../../engine/types.js'
import {copySnapshot} from '../etcd-backup/copy.js'
import {gatherFacts as gatherMembers} from '../etcd-backup/facts.js'
import {removeFromNode} from '../etcd-backup/remove.js'
import {applyRetention} from '../etcd-backup/retention.js'
import {saveSnapshot} from '../etcd-backup/save.js'
import {writeSidecar} from '../etcd-backup/sidecar.js'
import {verifyOnNode} from '../etcd-backup/verify.js'
import type {UpgradeFacts, UpgradeParams} from './facts.js'

type UpgradeStep = Step<UpgradeFacts, UpgradeParams>

// etcd-backup's "Gather facts": every member as etcdctl sees it on its node, and the one to snapshot.
export const gatherEtcdMembers: UpgradeStep = {...(gatherMembers as unknown as UpgradeStep), id: 'etcd-members', title: 'Gather the etcd members'}
export const saveEtcdSnapshot = saveSnapshot as unknown as UpgradeStep
export const verifyEtcdSnapshot = verifyOnNode as unknown as UpgradeStep
export const copyEtcdSnapshot = copySnapshot as unknown as UpgradeStep
export const writeEtcdSidecar = writeSidecar as unknown as UpgradeStep
export const removeEtcdSnapshotFromNode = removeFromNode as unknown as UpgradeStep
export const applyEtcdRetention = applyRetention as unknown as UpgradeStep
