/**
 * The control loops of a tiny cluster, run on a timer: node lifecycle (Ready condition from the
 * kubelet heartbeat, pressure conditions, the unschedulable and pressure taints), kubelets (start
 * bound pods, report restarts and crash loops, keep mirror pods of static pods, finish graceful
 * deletions), garbage collection of orphaned dependents and of pods on deleted nodes, Deployments → one
 * ReplicaSet, ReplicaSets → pods, DaemonSets → one pod per eligible node, a round-robin scheduler,
 * and the disruption controller (PDB status).
 */
import {createHash, randomUUID} from 'node:crypto'

import {type Cluster, DAEMONSETS, DEPLOYMENTS, NODES, PODS, randomSuffix, REPLICASETS} from './cluster.js'
import {PRESSURE_CONDITIONS, type PressureCondition} from './faults.js'
import {podReady} from './pdb.js'
import {fromLabelSelector, matchesLabels} from './selectors.js'
import type {Condition, DaemonSet, Deployment, KubeObject, Node, OwnerReference, Pod, PodSpec, PodTemplate, ReplicaSet, Taint, Toleration} from './types.js'
import {timestamp} from './types.js'

export const UNSCHEDULABLE_TAINT = 'node.kubernetes.io/unschedulable'
export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror'

/** Taints every DaemonSet pod tolerates (pkg/controller/daemon/util AddOrUpdateDaemonPodTolerations). */
const DAEMON_TOLERATIONS: Toleration[] = [
  {effect: 'NoExecute', key: 'node.kubernetes.io/not-ready', operator: 'Exists'},
  {effect: 'NoExecute', key: 'node.kubernetes.io/unreachable', operator: 'Exists'},
  {effect: 'NoSchedule', key: 'node.kubernetes.io/disk-pressure', operator: 'Exists'},
  {effect: 'NoSchedule', key: 'node.kubernetes.io/memory-pressure', operator: 'Exists'},
  {effect: 'NoSchedule', key: 'node.kubernetes.io/pid-pressure', operator: 'Exists'},
  {effect: 'NoSchedule', key: UNSCHEDULABLE_TAINT, operator: 'Exists'},
]

/** What the kubelet reports for each pressure condition (pkg/kubelet/nodestatus), and the taint TaintNodesByCondition adds. */
const PRESSURE: Record<PressureCondition, {no: [string, string]; taint: string; yes: [string, string]}> = {
  DiskPressure: {no: ['KubeletHasNoDiskPressure', 'kubelet has no disk pressure'], taint: 'node.kubernetes.io/disk-pressure', yes: ['KubeletHasDiskPressure', 'kubelet has disk pressure']},
  MemoryPressure: {no: ['KubeletHasSufficientMemory', 'kubelet has sufficient memory available'], taint: 'node.kubernetes.io/memory-pressure', yes: ['KubeletHasInsufficientMemory', 'kubelet has insufficient memory available']},
  PIDPressure: {no: ['KubeletHasSufficientPID', 'kubelet has sufficient PID available'], taint: 'node.kubernetes.io/pid-pressure', yes: ['KubeletHasInsufficientPID', 'kubelet has insufficient PID available']},
}
export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready'
const CONDITION_TAINTS = new Set([NOT_READY_TAINT, UNSCHEDULABLE_TAINT, ...Object.values(PRESSURE).map((p) => p.taint)])
/** What the kubelet reports while no CNI configuration is installed (before the pod network). */
const NO_NETWORK = 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized'

/** The parts of a pod's containerStatuses the kubelet here writes. */
interface ContainerStatus {
  containerID?: string
  lastState?: Record<string, unknown>
  name: string
  ready: boolean
  restartCount: number
  started?: boolean
  state?: {running?: {startedAt: string}; waiting?: {message?: string; reason: string}}
  [key: string]: unknown
}

export function nodeIsReady(node: Node): boolean {
  return (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
}

function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false
    if (t.operator === 'Exists') return !t.key || t.key === taint.key
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '')
  })
}

export function schedulable(node: Node, tolerations: readonly Toleration[]): boolean {
  return (node.spec?.taints ?? []).every((t) => t.effect === 'PreferNoSchedule' || tolerates(tolerations, t))
}

interface NodeSelectorRequirement {
  key: string
  operator: 'DoesNotExist' | 'Exists' | 'Gt' | 'In' | 'Lt' | 'NotIn'
  values?: string[]
}

function requirementMet(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? []
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value)
    case 'NotIn':
      return value === undefined || !values.includes(value)
    case 'Exists':
      return value !== undefined
    case 'DoesNotExist':
      return value === undefined
    case 'Gt':
    case 'Lt': {
      const have = Number(value)
      const want = Number(values[0])
      return value !== undefined && Number.isInteger(have) && (r.operator === 'Gt' ? have > want : have < want)
    }
    default:
      return false
  }
}

/** nodeSelector and required node affinity (terms ORed, expressions ANDed), as the scheduler's NodeAffinity filter. */
export function nodeMatches(node: Node, spec: PodSpec): boolean {
  const labels = node.metadata.labels ?? {}
  const selector = spec.nodeSelector as Record<string, string> | undefined
  if (selector && !Object.entries(selector).every(([k, v]) => labels[k] === v)) return false
  const affinity = spec.affinity as {nodeAffinity?: {requiredDuringSchedulingIgnoredDuringExecution?: {nodeSelectorTerms?: Array<{matchExpressions?: NodeSelectorRequirement[]; matchFields?: NodeSelectorRequirement[]}>}}} | undefined
  const terms = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms
  if (!terms) return true
  return terms.some((term) => {
    const expressions = term.matchExpressions ?? []
    const fields = term.matchFields ?? []
    if (expressions.length === 0 && fields.length === 0) return false
    return expressions.every((r) => requirementMet(r, labels[r.key])) && fields.every((r) => requirementMet(r, r.key === 'metadata.name' ? node.metadata.name : undefined))
  })
}

/** The daemon tolerations, plus network-unavailable for host-network pods (AddOrUpdateDaemonPodTolerations). */
function daemonTolerations(spec: PodSpec): Toleration[] {
  const extra: Toleration[] = spec.hostNetwork ? [{effect: 'NoSchedule', key: 'node.kubernetes.io/network-unavailable', operator: 'Exists'}] : []
  const own = spec.tolerations ?? []
  return [...own, ...[...DAEMON_TOLERATIONS, ...extra].filter((t) => !own.some((o) => o.key === t.key && o.effect === t.effect && o.operator === t.operator))]
}

/** maxUnavailable of a RollingUpdate DaemonSet: an integer or a percentage of the desired pods (rounded up), at least 1. */
function maxUnavailable(ds: DaemonSet, desired: number): number {
  const raw = (ds.spec.updateStrategy as {rollingUpdate?: {maxUnavailable?: number | string}} | undefined)?.rollingUpdate?.maxUnavailable ?? 1
  const value = typeof raw === 'string' && raw.endsWith('%') ? Math.ceil((Number(raw.slice(0, -1)) / 100) * desired) : Number(raw)
  return Math.max(1, Number.isFinite(value) ? value : 1)
}

function controllerOf(object: KubeObject): OwnerReference | undefined {
  return object.metadata.ownerReferences?.find((r) => r.controller)
}

function ownerRef(owner: KubeObject): OwnerReference {
  return {apiVersion: owner.apiVersion, blockOwnerDeletion: true, controller: true, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid ?? ''}
}

/** A stable 10-character hash of a pod template, like the `pod-template-hash` label. */
export function templateHash(template: PodTemplate): string {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest()
  const safe = 'bcdfghjklmnpqrstvwxz2456789'
  return [...digest.subarray(0, 10)].map((b) => safe[b % safe.length]).join('')
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export class Controllers {
  /** Nodes whose kubelet stopped posting status (nodeReady(name, false)). */
  readonly notReady = new Set<string>()
  /** Nodes whose kubelet runs without a pod network (nodeReady(name, false, 'network')): only host-network pods start. */
  readonly networkNotReady = new Set<string>()
  /** `namespace/name` of pods whose container the lab's kubelet knows is not running (a static pod's real process gone): unready, backing off. */
  readonly containersDown = new Set<string>()
  private nextNode = 0
  private podIp = 10

  constructor(private readonly cluster: Cluster) {}

  private get store() {
    return this.cluster.store
  }

  tick(): void {
    this.nodes()
    this.staticPods()
    this.garbageCollect()
    this.deployments()
    this.replicaSets()
    this.daemonSets()
    this.schedule()
    this.kubelets()
    this.finishDeletions()
    this.cluster.refreshPdbs()
  }

  private nodes(): void {
    for (const node of this.cluster.all<Node>(NODES)) {
      const before = structuredClone(node)
      const ready = !this.notReady.has(node.metadata.name)
      const noNetwork = ready && this.networkNotReady.has(node.metadata.name)
      const conditions = node.status?.conditions ?? []
      const current = conditions.find((c) => c.type === 'Ready')
      const wanted: Condition = !ready
        ? {message: 'Kubelet stopped posting node status.', reason: 'NodeStatusUnknown', status: 'Unknown', type: 'Ready'}
        : noNetwork
          ? {message: NO_NETWORK, reason: 'KubeletNotReady', status: 'False', type: 'Ready'}
          : {message: 'kubelet is posting ready status', reason: 'KubeletReady', status: 'True', type: 'Ready'}
      if (current?.status !== wanted.status || current.reason !== wanted.reason) {
        const now = timestamp()
        const next = {...wanted, lastHeartbeatTime: now, lastTransitionTime: now}
        node.status = {...node.status, conditions: [...conditions.filter((c) => c.type !== 'Ready'), next]}
      }
      const pressure = this.cluster.faults.pressureOf(node.metadata.name)
      for (const type of PRESSURE_CONDITIONS) {
        const under = pressure.includes(type)
        const have = node.status?.conditions?.find((c) => c.type === type)
        if (have ? (have.status === 'True') === under : !under) continue
        const now = timestamp()
        const [reason, message] = under ? PRESSURE[type].yes : PRESSURE[type].no
        const next: Condition = {lastHeartbeatTime: now, lastTransitionTime: now, message, reason, status: under ? 'True' : 'False', type}
        const list = node.status?.conditions ?? []
        node.status = {...node.status, conditions: have ? list.map((c) => (c.type === type ? next : c)) : [next, ...list]}
      }
      const taints = (node.spec?.taints ?? []).filter((t) => !CONDITION_TAINTS.has(t.key))
      const keepTaint = (key: string) => {
        const old = node.spec?.taints?.find((t) => t.key === key)
        taints.push({effect: 'NoSchedule', key, timeAdded: old?.timeAdded ?? timestamp()})
      }
      if (noNetwork) keepTaint(NOT_READY_TAINT)
      if (node.spec?.unschedulable) keepTaint(UNSCHEDULABLE_TAINT)
      for (const type of pressure) keepTaint(PRESSURE[type].taint)
      node.spec = {...node.spec}
      if (taints.length > 0) node.spec.taints = taints
      else delete node.spec.taints
      if (!same(before, node)) this.store.put(NODES, node)
    }
  }

  private staticPods(): void {
    for (const {node: nodeName, pod: manifest} of this.store.state.staticPods) {
      const node = this.cluster.find<Node>(NODES, undefined, nodeName)
      // Static pods are host-network: a kubelet without a pod network still runs them.
      if (!node || this.notReady.has(nodeName) || (!nodeIsReady(node) && !this.networkNotReady.has(nodeName))) continue
      const name = `${manifest.metadata.name}-${nodeName}`
      const namespace = manifest.metadata.namespace ?? 'kube-system'
      if (this.cluster.find(PODS, namespace, name)) continue
      const hash = createHash('md5').update(JSON.stringify(manifest)).digest('hex')
      this.cluster.create(PODS, namespace, {
        ...manifest,
        metadata: {
          ...manifest.metadata,
          annotations: {...manifest.metadata.annotations, 'kubernetes.io/config.hash': hash, [MIRROR_ANNOTATION]: hash, 'kubernetes.io/config.seen': timestamp(), 'kubernetes.io/config.source': 'file'},
          name,
          namespace,
          ownerReferences: [{apiVersion: 'v1', controller: true, kind: 'Node', name: nodeName, uid: node.metadata.uid ?? ''}],
        },
        spec: {...manifest.spec, nodeName},
      })
    }
  }

  /** Background cascading deletion: dependents whose controller is gone are deleted. */
  private garbageCollect(): void {
    const owners = new Set<string>()
    for (const d of [NODES, REPLICASETS, DEPLOYMENTS, DAEMONSETS]) for (const o of this.cluster.all(d)) owners.add(o.metadata.uid ?? '')
    for (const rs of this.cluster.all<ReplicaSet>(REPLICASETS)) {
      const ref = controllerOf(rs)
      if (ref && !owners.has(ref.uid)) this.store.remove(REPLICASETS, rs.metadata.namespace, rs.metadata.name)
    }
    owners.clear()
    for (const d of [NODES, REPLICASETS, DAEMONSETS]) for (const o of this.cluster.all(d)) owners.add(o.metadata.uid ?? '')
    const nodes = new Set(this.cluster.all(NODES).map((n) => n.metadata.name))
    for (const pod of this.cluster.all<Pod>(PODS)) {
      const ref = controllerOf(pod)
      if (pod.spec.nodeName && !nodes.has(pod.spec.nodeName)) {
        // The pod GC controller: pods bound to a node that no longer exists go at once.
        this.store.remove(PODS, pod.metadata.namespace, pod.metadata.name)
      } else if (ref && !owners.has(ref.uid) && !pod.metadata.deletionTimestamp) {
        this.cluster.deletePod(pod)
      }
    }
  }

  private deployments(): void {
    for (const deployment of this.cluster.all<Deployment>(DEPLOYMENTS)) {
      const namespace = deployment.metadata.namespace ?? 'default'
      const hash = templateHash(deployment.spec.template)
      const name = `${deployment.metadata.name}-${hash}`
      const owned = this.cluster.all<ReplicaSet>(REPLICASETS, namespace).filter((rs) => controllerOf(rs)?.uid === deployment.metadata.uid)
      const replicas = deployment.spec.replicas ?? 1
      if (!owned.some((rs) => rs.metadata.name === name)) {
        const template = structuredClone(deployment.spec.template)
        template.metadata = {...template.metadata, labels: {...template.metadata?.labels, 'pod-template-hash': hash}}
        this.cluster.create(REPLICASETS, namespace, {
          metadata: {annotations: {'deployment.kubernetes.io/desired-replicas': String(replicas), 'deployment.kubernetes.io/revision': String(owned.length + 1)}, labels: template.metadata.labels, name, ownerReferences: [ownerRef(deployment)]},
          spec: {replicas, selector: {matchLabels: {...deployment.spec.selector.matchLabels, 'pod-template-hash': hash}, ...(deployment.spec.selector.matchExpressions ? {matchExpressions: deployment.spec.selector.matchExpressions} : {})}, template},
        })
      }
      // One ReplicaSet runs the current template; older ones scale to zero (a Recreate rollout).
      for (const rs of this.cluster.all<ReplicaSet>(REPLICASETS, namespace).filter((r) => controllerOf(r)?.uid === deployment.metadata.uid)) {
        const want = rs.metadata.name === name ? replicas : 0
        if (rs.spec.replicas !== want) this.store.put(REPLICASETS, {...rs, spec: {...rs.spec, replicas: want}})
      }
      const pods = this.cluster.all<Pod>(PODS, namespace).filter((p) => !p.metadata.deletionTimestamp && matchesLabels(fromLabelSelector(deployment.spec.selector) ?? [], p.metadata.labels))
      const ready = pods.filter(podReady).length
      const updated = pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length
      const complete = updated === replicas && pods.length === replicas && ready >= replicas
      const status = {
        availableReplicas: ready,
        conditions: [
          {message: ready >= replicas ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.', reason: ready >= replicas ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable', status: ready >= replicas ? 'True' : 'False', type: 'Available'},
          {message: complete ? `ReplicaSet "${name}" has successfully progressed.` : `ReplicaSet "${name}" is progressing.`, reason: complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated', status: 'True', type: 'Progressing'},
        ],
        observedGeneration: deployment.metadata.generation ?? 1,
        readyReplicas: ready,
        replicas: pods.length,
        updatedReplicas: updated,
      }
      if (ready < pods.length) Object.assign(status, {unavailableReplicas: pods.length - ready})
      if (!same(status, deployment.status)) this.store.put(DEPLOYMENTS, {...deployment, status})
    }
  }

  private newPod(owner: KubeObject, template: PodTemplate, extra: Partial<Pod['spec']> = {}): unknown {
    return {
      metadata: {...template.metadata, generateName: `${owner.metadata.name}-`, name: `${owner.metadata.name}-${randomSuffix()}`, ownerReferences: [ownerRef(owner)]},
      spec: {...template.spec, ...extra},
    }
  }

  private replicaSets(): void {
    for (const rs of this.cluster.all<ReplicaSet>(REPLICASETS)) {
      const namespace = rs.metadata.namespace ?? 'default'
      const pods = this.cluster.all<Pod>(PODS, namespace).filter((p) => controllerOf(p)?.uid === rs.metadata.uid && !p.metadata.deletionTimestamp)
      const replicas = rs.spec.replicas ?? 1
      for (let i = pods.length; i < replicas; i++) this.cluster.create(PODS, namespace, this.newPod(rs, rs.spec.template))
      for (const extra of pods.slice(replicas)) this.cluster.deletePod(extra)
      const live = this.cluster.all<Pod>(PODS, namespace).filter((p) => controllerOf(p)?.uid === rs.metadata.uid && !p.metadata.deletionTimestamp)
      const ready = live.filter(podReady).length
      const status = {availableReplicas: ready, fullyLabeledReplicas: live.length, observedGeneration: rs.metadata.generation ?? 1, readyReplicas: ready, replicas: live.length}
      if (!same(status, rs.status)) this.store.put(REPLICASETS, {...rs, status})
    }
  }

  /**
   * One pod per node the DaemonSet fits (NotReady nodes included: the daemon tolerations cover
   * not-ready and unreachable), labelled with the template's `controller-revision-hash`. A template
   * change replaces old pods maxUnavailable at a time (RollingUpdate; OnDelete leaves them), unready
   * old pods first. Status counts as the DaemonSet controller's: desired = nodes that should run it,
   * ready/available = those whose pod is Ready (minReadySeconds is not modelled).
   */
  private daemonSets(): void {
    const nodes = this.cluster.all<Node>(NODES)
    for (const ds of this.cluster.all<DaemonSet>(DAEMONSETS)) {
      const namespace = ds.metadata.namespace ?? 'default'
      const spec = ds.spec.template.spec
      const tolerations = daemonTolerations(spec)
      const eligible = nodes.filter((n) => schedulable(n, tolerations) && nodeMatches(n, spec))
      const eligibleNames = new Set(eligible.map((n) => n.metadata.name))
      const hash = templateHash(ds.spec.template)
      const owned = () => this.cluster.all<Pod>(PODS, namespace).filter((p) => controllerOf(p)?.uid === ds.metadata.uid)
      const all = owned()
      for (const node of eligible) {
        // A node whose old pod is still terminating gets its new one once that is gone.
        if (all.some((p) => p.spec.nodeName === node.metadata.name)) continue
        const template = structuredClone(ds.spec.template)
        template.metadata = {...template.metadata, labels: {...template.metadata?.labels, 'controller-revision-hash': hash, 'pod-template-generation': String(ds.metadata.generation ?? 1)}}
        this.cluster.create(PODS, namespace, this.newPod(ds, template, {nodeName: node.metadata.name, tolerations}))
      }
      let live = all.filter((p) => !p.metadata.deletionTimestamp)
      for (const pod of live) if (!eligibleNames.has(pod.spec.nodeName ?? '')) this.cluster.deletePod(pod)
      live = live.filter((p) => eligibleNames.has(p.spec.nodeName ?? ''))
      const strategy = (ds.spec.updateStrategy as {type?: string} | undefined)?.type ?? 'RollingUpdate'
      const old = live.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== hash)
      if (strategy === 'RollingUpdate' && old.length > 0) {
        const unavailable = eligible.length - live.filter(podReady).length
        let budget = maxUnavailable(ds, eligible.length) - unavailable
        for (const pod of [...old.filter((p) => !podReady(p)), ...old.filter(podReady)]) {
          if (podReady(pod) && budget <= 0) break
          if (podReady(pod)) budget--
          this.cluster.deletePod(pod)
        }
      }
      const current = owned().filter((p) => !p.metadata.deletionTimestamp && eligibleNames.has(p.spec.nodeName ?? ''))
      const ready = current.filter(podReady).length
      const status: Record<string, unknown> = {
        currentNumberScheduled: current.length,
        desiredNumberScheduled: eligible.length,
        numberAvailable: ready,
        numberMisscheduled: owned().filter((p) => !p.metadata.deletionTimestamp && !eligibleNames.has(p.spec.nodeName ?? '')).length,
        numberReady: ready,
        observedGeneration: ds.metadata.generation ?? 1,
        updatedNumberScheduled: current.filter((p) => p.metadata.labels?.['controller-revision-hash'] === hash).length,
      }
      if (eligible.length > ready) status.numberUnavailable = eligible.length - ready
      if (!same(status, ds.status)) this.store.put(DAEMONSETS, {...ds, status})
    }
  }

  /** Unbound pods go to Ready, schedulable nodes whose taints they tolerate, round robin. */
  private schedule(): void {
    const nodes = this.cluster.all<Node>(NODES).filter((n) => nodeIsReady(n) && !n.spec?.unschedulable)
    for (const pod of this.cluster.all<Pod>(PODS)) {
      if (pod.spec.nodeName || pod.metadata.deletionTimestamp) continue
      const fits = nodes.filter((n) => schedulable(n, pod.spec.tolerations ?? []) && nodeMatches(n, pod.spec))
      if (fits.length === 0) continue
      const node = fits[this.nextNode++ % fits.length]
      if (!node) continue
      pod.spec.nodeName = node.metadata.name
      pod.status = {...pod.status, conditions: [{lastTransitionTime: timestamp(), status: 'True', type: 'PodScheduled'}]}
      this.store.put(PODS, pod)
    }
  }

  /** What each node's kubelet reports: bound pods run and are Ready while their node is Ready. */
  private kubelets(): void {
    const nodes = new Map(this.cluster.all<Node>(NODES).map((n) => [n.metadata.name, n]))
    for (const pod of this.cluster.all<Pod>(PODS)) {
      const node = pod.spec.nodeName ? nodes.get(pod.spec.nodeName) : undefined
      if (!node || pod.metadata.deletionTimestamp) continue
      const before = structuredClone(pod)
      const kubeletUp = nodeIsReady(node) || (!this.notReady.has(node.metadata.name) && this.networkNotReady.has(node.metadata.name))
      const ready = kubeletUp && (nodeIsReady(node) || pod.spec.hostNetwork === true)
      const now = timestamp()
      const status = pod.status ?? {}
      if (status.phase === 'Pending' && ready) {
        status.phase = 'Running'
        status.startTime = now
        status.hostIP = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? ''
        const prefix = (node.spec?.podCIDR ?? '10.244.0.0/24').replace(/\.0\/\d+$/, '')
        status.podIP = pod.spec.hostNetwork ? status.hostIP : `${prefix}.${(this.podIp++ % 250) + 2}`
        status.containerStatuses = pod.spec.containers.map((c) => ({containerID: `containerd://${randomUUID().replace(/-/g, '')}`, image: c.image ?? '', name: c.name, ready: true, restartCount: 0, started: true, state: {running: {startedAt: now}}}))
      }
      const crashing = status.phase === 'Running' && this.containerFaults(pod, now)
      if (status.phase === 'Running') {
        const want = ready && !crashing ? 'True' : 'False'
        const conditions = status.conditions ?? []
        for (const type of ['Initialized', 'Ready', 'ContainersReady', 'PodScheduled']) {
          const value: Condition['status'] = type === 'Ready' || type === 'ContainersReady' ? want : 'True'
          const existing = conditions.find((c) => c.type === type)
          if (existing?.status !== value) {
            const next: Condition = {lastTransitionTime: now, status: value, type}
            status.conditions = [...(status.conditions ?? []).filter((c) => c.type !== type), next]
          }
        }
      }
      pod.status = status
      if (!same(before, pod)) this.store.put(PODS, pod)
    }
  }

  /** Restart counts and crash loops from the faults; true while the pod crash-loops. */
  private containerFaults(pod: Pod, now: string): boolean {
    const namespace = pod.metadata.namespace ?? 'default'
    const crashing = this.cluster.faults.crashLooping(namespace, pod.metadata.name) || this.containersDown.has(`${namespace}/${pod.metadata.name}`)
    const restarts = this.cluster.faults.podRestarts(namespace, pod.metadata.name)
    const status = pod.status ?? {}
    const statuses = (status.containerStatuses ?? []) as ContainerStatus[]
    status.containerStatuses = statuses.map((cs, i): ContainerStatus => {
      const looping = cs.state?.waiting?.reason === 'CrashLoopBackOff'
      const restartCount = i === 0 && restarts !== undefined ? restarts : cs.restartCount
      if (crashing) {
        if (looping && cs.restartCount === Math.max(restartCount, 1)) return cs
        // The kubelet's back-off message, and the run that ended; written once, so ticks do not churn.
        const lastState = looping ? cs.lastState : {terminated: {containerID: cs.containerID, exitCode: 1, finishedAt: now, reason: 'Error', startedAt: cs.state?.running?.startedAt ?? now}}
        const waiting = {message: `back-off 5m0s restarting failed container=${cs.name} pod=${pod.metadata.name}_${namespace}(${pod.metadata.uid ?? ''})`, reason: 'CrashLoopBackOff'}
        return {...cs, lastState, ready: false, restartCount: Math.max(restartCount, 1), started: false, state: {waiting}}
      }
      if (looping) return {...cs, ready: true, restartCount, started: true, state: {running: {startedAt: now}}}
      return restartCount === cs.restartCount ? cs : {...cs, restartCount}
    })
    pod.status = status
    return crashing
  }

  private finishDeletions(): void {
    const now = Date.now()
    for (const pod of this.cluster.all<Pod>(PODS)) {
      if (!pod.metadata.deletionTimestamp) continue
      const namespace = pod.metadata.namespace ?? 'default'
      if (this.cluster.faults.podStuck(namespace, pod.metadata.name)) continue
      const uid = pod.metadata.uid ?? ''
      // After a restart the deadlines are gone: finish those deletions now.
      const deadline = this.cluster.deadlines.get(uid) ?? now
      if (deadline > now) continue
      this.cluster.deadlines.delete(uid)
      this.store.remove(PODS, namespace, pod.metadata.name)
    }
  }
}
