/**
 * The lab's Kubernetes API server (see README.md beside this file for what it reproduces and how).
 */
export {type FakeKube, type FakeKubeOptions, type KubeconfigOptions, kubeconfigText, type KubeRequestLogEntry, startFakeKube} from './server.js'
export {type EtcdMemberHealth, type EtcdOptions, etcdKey, parseEtcdKey} from './etcd-store.js'
export {ADMIN_GROUPS, ADMIN_USER, type ClusterPki, ensurePki, issueClientCertificate, type KeyPair} from './certs.js'
export {Cluster, type DeleteOptions, type KubeList, type ListQuery} from './cluster.js'
export {type ErrorFault, type KubeFaults, type LatencyFault, type RequestSelector} from './faults.js'
export {MIRROR_ANNOTATION, UNSCHEDULABLE_TAINT} from './controllers.js'
export {RESOURCES, type ResourceDef} from './discovery.js'
export {applyPatch, jsonPatch, mergePatch, strategicMergePatch} from './patch.js'
export {computePdbStatus} from './pdb.js'
export {fromLabelSelector, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector} from './selectors.js'
export {type RegisterNodeOptions, type SeedDemoOptions} from './seed.js'
export {KubeError, type StatusBody} from './status.js'
export type * from './types.js'
