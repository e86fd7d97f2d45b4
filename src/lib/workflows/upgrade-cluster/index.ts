/**
 * upgrade-cluster: kubeadm's upgrade procedure, one minor at a time. The assessment refuses what
 * must not start; an etcd backup and Proxmox snapshots first; every node's package repository
 * switched to the target minor; then node by node — the first control plane (`kubeadm upgrade
 * apply`), the other control planes, the workers (`kubeadm upgrade node`) — kubeadm, the upgrade,
 * drain, kubelet and kubectl, the kubelet restarted and Ready at the target, uncordon; last kp.yaml's
 * version and the health checks. Reads like runbooks/upgrade-cluster.md.
 */
import type {Workflow} from '../../engine/types.js'
import {applyEtcdRetention, copyEtcdSnapshot, gatherEtcdMembers, removeEtcdSnapshotFromNode, saveEtcdSnapshot, verifyEtcdSnapshot, writeEtcdSidecar} from './backup.js'
import {updateConfig} from './config.js'
import {drainNode} from './drain.js'
import {gatherFacts, initialFacts, type UpgradeFacts, type UpgradeParams} from './facts.js'
import {checkHealth} from './health.js'
import {upgradeKubeadm} from './kubeadm.js'
import {kubeadmUpgrade} from './kubeadm-upgrade.js'
import {upgradeKubelet} from './kubelet.js'
import {gatherNodeFacts} from './node-facts.js'
import {switchRepository} from './repo.js'
import {restartKubelet} from './restart.js'
import {snapshotVms} from './snapshot.js'
import {uncordonNode} from './uncordon.js'

export const upgradeCluster: Workflow<UpgradeFacts, UpgradeParams> = {
  // kubeadm asks before `upgrade apply`; so does kp, once, for the whole cluster (--yes without a TTY).
  destructive: true,
  initialFacts,
  name: 'upgrade-cluster',
  // The Proxmox token, for the snapshots.
  secrets: true,
  steps: [
    gatherFacts,
    gatherEtcdMembers,
    saveEtcdSnapshot,
    verifyEtcdSnapshot,
    copyEtcdSnapshot,
    writeEtcdSidecar,
    removeEtcdSnapshotFromNode,
    applyEtcdRetention,
    snapshotVms,
    switchRepository,
    gatherNodeFacts,
    upgradeKubeadm,
    kubeadmUpgrade,
    drainNode,
    upgradeKubelet,
    restartKubelet,
    uncordonNode,
    updateConfig,
    checkHealth,
  ],
  title: 'Upgrade the cluster',
}
