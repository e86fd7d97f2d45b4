/**
 * Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, with the columns of the real printers
 * (pkg/printers/internalversion/printers.go) for nodes, pods, namespaces, Deployments, ReplicaSets,
 * DaemonSets and PDBs, and Name/Age for
 * the rest. Priority-1 columns are the ones `-o wide` adds.
 */
import type {KubeList} from './cluster.js'
import type {ResourceDef} from './discovery.js'
import type {DaemonSet, Deployment, KubeObject, Node, Pod, PodDisruptionBudget, ReplicaSet} from './types.js'

interface Column {
  description: string
  format: string
  name: string
  priority: number
  type: string
}

const col = (name: string, priority = 0, type = 'string', format = ''): Column => ({description: name, format, name, priority, type})

/** apimachinery's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  const m = Math.floor(s / 60)
  const h = Math.floor(m / 60)
  const d = Math.floor(h / 24)
  if (s < 120) return `${s}s`
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  if (m < 180) return `${m}m`
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  if (h < 48) return `${h}h`
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
  if (d < 365 * 2) return `${d}d`
  return `${Math.floor(d / 365)}y`
}

function age(o: KubeObject): string {
  return o.metadata.creationTimestamp ? humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp)) : '<unknown>'
}

const none = (v: string | undefined) => (v ? v : '<none>')

function nodeRow(node: Node): unknown[] {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready')
  let status = ready?.status === 'True' ? 'Ready' : ready?.status === 'False' ? 'NotReady' : 'Unknown'
  if (node.spec?.unschedulable) status += ',SchedulingDisabled'
  const roles = Object.keys(node.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length))
  const address = (type: string) => node.status?.addresses?.find((a) => a.type === type)?.address
  const info = node.status?.nodeInfo ?? {}
  return [node.metadata.name, status, roles.length ? roles.sort().join(',') : '<none>', age(node), info.kubeletVersion ?? '', none(address('InternalIP')), none(address('ExternalIP')), info.osImage ?? '<unknown>', info.kernelVersion ?? '<unknown>', info.containerRuntimeVersion ?? '<unknown>']
}

function podRow(pod: Pod): unknown[] {
  const statuses = (pod.status?.containerStatuses ?? []) as Array<{ready?: boolean; restartCount?: number}>
  const ready = statuses.filter((c) => c.ready).length
  let reason: string = pod.status?.phase ?? 'Pending'
  if (pod.metadata.deletionTimestamp) reason = 'Terminating'
  else if (reason === 'Pending' && pod.spec.nodeName) reason = 'ContainerCreating'
  const restarts = statuses.reduce((a, c) => a + (c.restartCount ?? 0), 0)
  return [pod.metadata.name, `${ready}/${pod.spec.containers.length}`, reason, restarts, age(pod), none(pod.status?.podIP), none(pod.spec.nodeName), '<none>', '<none>']
}

function deploymentRow(d: Deployment): unknown[] {
  const s = (d.status ?? {}) as {availableReplicas?: number; readyReplicas?: number; updatedReplicas?: number}
  const containers = d.spec.template.spec.containers
  return [d.metadata.name, `${s.readyReplicas ?? 0}/${d.spec.replicas ?? 1}`, s.updatedReplicas ?? 0, s.availableReplicas ?? 0, age(d), containers.map((c) => c.name).join(','), containers.map((c) => c.image ?? '').join(','), '<selector>']
}

function pdbRow(p: PodDisruptionBudget): unknown[] {
  const show = (v: number | string | undefined) => (v === undefined ? 'N/A' : String(v))
  return [p.metadata.name, show(p.spec.minAvailable), show(p.spec.maxUnavailable), p.status?.disruptionsAllowed ?? 0, age(p)]
}

function replicaSetRow(rs: ReplicaSet): unknown[] {
  const s = (rs.status ?? {}) as {readyReplicas?: number; replicas?: number}
  return [rs.metadata.name, rs.spec.replicas ?? 1, s.replicas ?? 0, s.readyReplicas ?? 0, age(rs)]
}

function daemonSetRow(ds: DaemonSet): unknown[] {
  const s = (ds.status ?? {}) as Record<string, number | undefined>
  const selector = Object.entries((ds.spec.template.spec.nodeSelector ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',')
  return [ds.metadata.name, s.desiredNumberScheduled ?? 0, s.currentNumberScheduled ?? 0, s.numberReady ?? 0, s.updatedNumberScheduled ?? 0, s.numberAvailable ?? 0, none(selector), age(ds)]
}

function namespaceRow(ns: KubeObject): unknown[] {
  return [ns.metadata.name, (ns.status as {phase?: string} | undefined)?.phase ?? 'Active', age(ns)]
}

const PRINTERS: Record<string, {columns: Column[]; row: (o: never) => unknown[]}> = {
  daemonsets: {columns: [col('Name', 0, 'string', 'name'), col('Desired', 0, 'integer'), col('Current', 0, 'integer'), col('Ready', 0, 'integer'), col('Up-to-date', 0, 'integer'), col('Available', 0, 'integer'), col('Node Selector'), col('Age')], row: daemonSetRow},
  deployments: {columns: [col('Name', 0, 'string', 'name'), col('Ready'), col('Up-to-date', 0, 'integer'), col('Available', 0, 'integer'), col('Age'), col('Containers', 1), col('Images', 1), col('Selector', 1)], row: deploymentRow},
  namespaces: {columns: [col('Name', 0, 'string', 'name'), col('Status'), col('Age')], row: namespaceRow},
  nodes: {columns: [col('Name', 0, 'string', 'name'), col('Status'), col('Roles'), col('Age'), col('Version'), col('Internal-IP', 1), col('External-IP', 1), col('OS-Image', 1), col('Kernel-Version', 1), col('Container-Runtime', 1)], row: nodeRow},
  poddisruptionbudgets: {columns: [col('Name', 0, 'string', 'name'), col('Min Available'), col('Max Unavailable'), col('Allowed Disruptions', 0, 'integer'), col('Age')], row: pdbRow},
  replicasets: {columns: [col('Name', 0, 'string', 'name'), col('Desired', 0, 'integer'), col('Current', 0, 'integer'), col('Ready', 0, 'integer'), col('Age')], row: replicaSetRow},
  pods: {columns: [col('Name', 0, 'string', 'name'), col('Ready'), col('Status'), col('Restarts', 0, 'integer'), col('Age'), col('IP', 1), col('Node', 1), col('Nominated Node', 1), col('Readiness Gates', 1)], row: podRow},
}

/** True when the Accept header asks for a meta.k8s.io Table first. */
export function wantsTable(accept: string | undefined): boolean {
  const first = (accept ?? '').split(',')[0] ?? ''
  return /(^|;)\s*as=Table/.test(first) && /g=meta\.k8s\.io/.test(first)
}

export function toTable(def: ResourceDef, data: KubeList | KubeObject): unknown {
  const printer = PRINTERS[def.name] ?? {columns: [col('Name', 0, 'string', 'name'), col('Age')], row: (o: KubeObject) => [o.metadata.name, age(o)]}
  const isList = Array.isArray((data as KubeList).items)
  const objects = isList ? (data as KubeList).items : [data as KubeObject]
  const metadata = isList ? (data as KubeList).metadata : {resourceVersion: (data as KubeObject).metadata.resourceVersion}
  return {
    apiVersion: 'meta.k8s.io/v1',
    columnDefinitions: printer.columns,
    kind: 'Table',
    metadata,
    rows: objects.map((o) => ({cells: printer.row(o as never), object: {apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: o.metadata}})),
  }
}
