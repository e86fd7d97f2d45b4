/**
 * etcd-restore: the whole cluster back to a snapshot, the kubeadm procedure for stacked etcd on
 * every control plane at once. Runbook: runbooks/etcd-restore.md.
 */
import type {Workflow} from '../../engine/types.js'
import {copySnapshot} from './copy.js'
import {CONTROL_PLANE_PODS, type RestoreFacts, type RestoreParams, initialFacts} from './facts.js'
import {gatherFacts} from './gather.js'
import {moveManifests} from './manifests.js'
import {restoreData} from './restore-data.js'
import {snapshotVms} from './snapshot-vms.js'
import {restoredEtcdHealthy} from './start.js'
import {swapData} from './swap.js'
import {verifyCluster} from './verify-cluster.js'
import {verifySnapshot} from './verify-snapshot.js'

export const etcdRestore: Workflow<RestoreFacts, RestoreParams> = {
  destructive: true,
  initialFacts,
  name: 'etcd-restore',
  secrets: true,
  steps: [
    gatherFacts,
    verifySnapshot,
    snapshotVms,
    copySnapshot,
    restoreData,
    moveManifests({direction: 'park', id: 'stop-apiservers', pods: CONTROL_PLANE_PODS, title: 'Stop the API servers'}),
    moveManifests({direction: 'park', id: 'stop-etcd', pods: ['etcd'], title: 'Stop etcd'}),
    swapData,
    moveManifests({direction: 'unpark', id: 'start-etcd', pods: ['etcd'], ready: restoredEtcdHealthy, title: 'Start etcd'}),
    moveManifests({direction: 'unpark', id: 'start-apiservers', pods: CONTROL_PLANE_PODS, title: 'Start the API servers', waitStarted: false}),
    verifyCluster,
  ],
  title: 'Restore etcd from a snapshot',
}
