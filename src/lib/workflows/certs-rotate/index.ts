/**
 * certs-rotate: kubeadm's leaf certificates renewed on every control plane, one at a time, each
 * checked, renewed, its static pods restarted the safe way and verified (on disk and as served)
 * before the next; an etcd backup first, a Proxmox snapshot per control plane when configured, and
 * the operator's admin kubeconfig refreshed last. Reads like runbooks/certs-rotate.md.
 */
import type {Workflow} from '../../engine/types.js'
import {backupSteps} from './backup.js'
import {checkControlPlane} from './check.js'
import {gatherFacts, initialFacts, type RotateFacts, type RotateParams} from './facts.js'
import {refreshKubeconfig} from './kubeconfig.js'
import {renewCertificates} from './renew.js'
import {restartStaticPods} from './restart.js'
import {snapshotVm} from './snapshot.js'
import {verifyControlPlane} from './verify.js'

export const certsRotate: Workflow<RotateFacts, RotateParams> = {
  initialFacts,
  name: 'certs-rotate',
  // The Proxmox token, for the snapshots.
  secrets: true,
  steps: [gatherFacts, ...backupSteps, checkControlPlane, snapshotVm, renewCertificates, restartStaticPods, verifyControlPlane, refreshKubeconfig],
  title: 'Rotate the control planes\' certificates',
}
