/**
 * The few Kubernetes object shapes the fake API server reads and writes. Objects are stored as the
 * JSON clients send; these interfaces name the fields the server itself looks at.
 */

export interface OwnerReference {
  apiVersion: string
  blockOwnerDeletion?: boolean
  controller?: boolean
  kind: string
  name: string
  uid: string
}

/** One manager's fields (server-side apply's field ownership; fieldmanager.ts). */
export interface ManagedFieldsEntry {
  apiVersion: string
  fieldsType: 'FieldsV1'
  fieldsV1: Record<string, unknown>
  manager: string
  operation: 'Apply' | 'Update'
  subresource?: string
  time: string
}

export interface ObjectMeta {
  annotations?: Record<string, string>
  creationTimestamp?: string
  deletionGracePeriodSeconds?: number
  deletionTimestamp?: string
  finalizers?: string[]
  generateName?: string
  generation?: number
  labels?: Record<string, string>
  managedFields?: ManagedFieldsEntry[]
  name: string
  namespace?: string
  ownerReferences?: OwnerReference[]
  resourceVersion?: string
  uid?: string
}

export interface KubeObject {
  apiVersion: string
  kind: string
  metadata: ObjectMeta
  spec?: unknown
  status?: unknown
  [key: string]: unknown
}

export interface LabelSelector {
  matchExpressions?: Array<{key: string; operator: 'DoesNotExist' | 'Exists' | 'In' | 'NotIn'; values?: string[]}>
  matchLabels?: Record<string, string>
}

export interface Condition {
  lastHeartbeatTime?: string
  lastTransitionTime?: string
  message?: string
  reason?: string
  status: 'False' | 'True' | 'Unknown'
  type: string
}

export interface Taint {
  effect: 'NoExecute' | 'NoSchedule' | 'PreferNoSchedule'
  key: string
  timeAdded?: string
  value?: string
}

export interface Toleration {
  effect?: string
  key?: string
  operator?: 'Equal' | 'Exists'
  tolerationSeconds?: number
  value?: string
}

export interface PodSpec {
  containers: Array<{image?: string; name: string; [key: string]: unknown}>
  nodeName?: string
  priority?: number
  terminationGracePeriodSeconds?: number
  tolerations?: Toleration[]
  volumes?: Array<{emptyDir?: unknown; name: string; [key: string]: unknown}>
  [key: string]: unknown
}

export interface PodStatus {
  conditions?: Condition[]
  containerStatuses?: unknown[]
  hostIP?: string
  phase?: 'Failed' | 'Pending' | 'Running' | 'Succeeded' | 'Unknown'
  podIP?: string
  startTime?: string
  [key: string]: unknown
}

export interface Pod extends KubeObject {
  spec: PodSpec
  status?: PodStatus
}

export interface NodeStatus {
  addresses?: Array<{address: string; type: string}>
  allocatable?: Record<string, string>
  capacity?: Record<string, string>
  conditions?: Condition[]
  nodeInfo?: Record<string, string>
  [key: string]: unknown
}

export interface Node extends KubeObject {
  spec?: {podCIDR?: string; taints?: Taint[]; unschedulable?: boolean; [key: string]: unknown}
  status?: NodeStatus
}

export interface PodTemplate {
  metadata?: Partial<ObjectMeta>
  spec: PodSpec
}

export interface ReplicaSet extends KubeObject {
  spec: {replicas?: number; selector: LabelSelector; template: PodTemplate}
  status?: Record<string, unknown>
}

export interface Deployment extends KubeObject {
  spec: {replicas?: number; selector: LabelSelector; template: PodTemplate; [key: string]: unknown}
  status?: Record<string, unknown>
}

export interface DaemonSet extends KubeObject {
  spec: {selector: LabelSelector; template: PodTemplate; [key: string]: unknown}
  status?: Record<string, unknown>
}

export interface PodDisruptionBudget extends KubeObject {
  spec: {maxUnavailable?: number | string; minAvailable?: number | string; selector?: LabelSelector}
  status?: {
    conditions?: Condition[]
    currentHealthy: number
    desiredHealthy: number
    disruptedPods?: Record<string, string>
    disruptionsAllowed: number
    expectedPods: number
    observedGeneration?: number
  }
}

/** RFC 3339 with seconds, as the API server writes timestamps. */
export function timestamp(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')
}
