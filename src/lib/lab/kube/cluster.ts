/**
 * The API server's registry: create, get, list, update, patch and delete with the semantics clients
 * rely on (resourceVersion preconditions, status subresources, graceful pod deletion, selectors,
 * pagination), and the pods/eviction subresource with PodDisruptionBudget checks, following
 * pkg/registry/core/pod/storage/eviction.go.
 */
import {randomUUID} from 'node:crypto'

import {apiVersionOf, findResource, type ResourceDef} from './discovery.js'
import type {KubeFaultState} from './faults.js'
import {applyConfig, recordUpdate, type WriteScope} from './fieldmanager.js'
import {applyPatch} from './patch.js'
import {computePdbStatus, pdbSelects, podReady} from './pdb.js'
import {matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector} from './selectors.js'
import type {ObjectStore} from './state.js'
import {alreadyExists, badRequest, conflict, type GroupResource, invalid, KubeError, notFound, type StatusBody, success} from './status.js'
import {type DaemonSet, type Deployment, type KubeObject, type ObjectMeta, type Pod, type PodDisruptionBudget, type ReplicaSet, timestamp} from './types.js'

export interface ListQuery {
  continue?: string
  fieldSelector?: string
  labelSelector?: string
  limit?: number
}

export interface DeleteOptions {
  gracePeriodSeconds?: number
  preconditions?: {resourceVersion?: string; uid?: string}
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'
}

/** A write through the API: its field manager is recorded in managedFields. The controllers here pass none. */
export interface WriteContext {
  manager: string
}

export interface ApplyRequest {
  fieldManager: string
  force: boolean
  subresource?: string
}

export interface KubeList {
  apiVersion: string
  items: KubeObject[]
  kind: string
  metadata: {continue?: string; remainingItemCount?: number; resourceVersion: string}
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789'

/** apimachinery's rand.String: the suffix of generateName and of controller-made pods. */
export function randomSuffix(length = 5): string {
  let out = ''
  for (let i = 0; i < length; i++) out += SAFE[Math.floor(Math.random() * SAFE.length)]
  return out
}

const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const WORKLOADS = new Set(['DaemonSet', 'Deployment', 'PodDisruptionBudget', 'ReplicaSet'])

export const def = (group: string, name: string): ResourceDef => {
  const found = findResource(group, 'v1', name)
  if (!found) throw new Error(`unknown resource ${group}/${name}`)
  return found
}

export const PODS = def('', 'pods')
export const NODES = def('', 'nodes')
export const NAMESPACES = def('', 'namespaces')
export const PDBS = def('policy', 'poddisruptionbudgets')
export const REPLICASETS = def('apps', 'replicasets')
export const DEPLOYMENTS = def('apps', 'deployments')
export const DAEMONSETS = def('apps', 'daemonsets')
export const SERVICES = def('', 'services')

function gr(d: ResourceDef): GroupResource {
  return {group: d.group, resource: d.name}
}

function encodeContinue(rv: string, key: string): string {
  return Buffer.from(JSON.stringify({rv: Number(rv), start: `${key}\u0000`, v: 'meta.k8s.io/v1'})).toString('base64')
}

function decodeContinue(token: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as {start?: unknown; v?: unknown}
    if (parsed.v === 'meta.k8s.io/v1' && typeof parsed.start === 'string') return parsed.start
  } catch {
    // fall through
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)')
}

function scopeOf(d: ResourceDef, subresource: string | undefined): WriteScope {
  if (subresource !== undefined) return 'status'
  return 'status' in d.subresources ? 'main' : 'whole'
}

/** GroupVersionKind.String() as the field manager's version check prints it: `apps/v1, Kind=DaemonSet`, `/v1, Kind=ConfigMap`. */
function gvkString(apiVersion: unknown, kind: unknown): string {
  const av = typeof apiVersion === 'string' ? apiVersion : ''
  const [group, version] = av.includes('/') ? av.split('/', 2) : ['', av]
  return `${group}/${version}, Kind=${typeof kind === 'string' ? kind : ''}`
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const strip = (o: KubeObject) => JSON.stringify({...o, metadata: {...o.metadata, resourceVersion: undefined}})
  return strip(a) === strip(b)
}

export class Cluster {
  /** Pod uid → when its graceful deletion completes (ms since epoch). */
  readonly deadlines = new Map<string, number>()

  constructor(
    readonly store: ObjectStore,
    readonly faults: KubeFaultState,
    private readonly gracePeriodScale: number,
  ) {}

  get<T extends KubeObject = KubeObject>(d: ResourceDef, namespace: string | undefined, name: string): T {
    const found = this.store.get<T>(d, namespace, name)
    if (!found) throw notFound(gr(d), name)
    return found
  }

  find<T extends KubeObject = KubeObject>(d: ResourceDef, namespace: string | undefined, name: string): T | undefined {
    return this.store.get<T>(d, namespace, name)
  }

  all<T extends KubeObject = KubeObject>(d: ResourceDef, namespace?: string): T[] {
    return this.store.list<T>(d, namespace).map((e) => e.object)
  }

  list(d: ResourceDef, namespace: string | undefined, query: ListQuery = {}): KubeList {
    const labels = query.labelSelector ? parseLabelSelector(query.labelSelector) : []
    const fields = query.fieldSelector ? parseFieldSelector(query.fieldSelector, d.fieldSelectors) : []
    const start = query.continue ? decodeContinue(query.continue) : undefined
    const entries = this.store
      .list(d, namespace)
      .filter((e) => (start === undefined || e.key >= start) && matchesLabels(labels, e.object.metadata.labels) && matchesFields(fields, e.object))
    const limit = query.limit && query.limit > 0 ? query.limit : entries.length
    const page = entries.slice(0, limit)
    const metadata: KubeList['metadata'] = {resourceVersion: this.store.resourceVersion}
    const last = page[page.length - 1]
    if (entries.length > page.length && last) {
      metadata.continue = encodeContinue(this.store.resourceVersion, last.key)
      if (labels.length === 0 && fields.length === 0) metadata.remainingItemCount = entries.length - page.length
    }
    // Items of a typed list carry no kind or apiVersion, as the real server sends them.
    const items = page.map((e) => {
      const {apiVersion: _v, kind: _k, ...rest} = e.object
      return rest as KubeObject
    })
    return {apiVersion: apiVersionOf(d), items, kind: d.listKind, metadata}
  }

  create<T extends KubeObject = KubeObject>(d: ResourceDef, namespace: string | undefined, body: unknown, write?: WriteContext & {applied?: boolean}): T {
    const object = this.checkBody(d, body)
    const meta: ObjectMeta = {...object.metadata}
    if (d.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
      meta.namespace = namespace ?? meta.namespace ?? 'default'
      if (!this.find(NAMESPACES, undefined, meta.namespace)) throw notFound(gr(NAMESPACES), meta.namespace)
    } else {
      delete meta.namespace
    }
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`
    if (!meta.name) throw invalid(d.kind, '', [{field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired'}], d.group)
    if (!NAME_RE.test(meta.name) || meta.name.length > 253) {
      throw invalid(d.kind, meta.name, [{field: 'metadata.name', message: `Invalid value: "${meta.name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`}], d.group)
    }
    if (this.find(d, meta.namespace, meta.name)) throw alreadyExists(gr(d), meta.name)
    meta.uid = randomUUID()
    meta.creationTimestamp = timestamp()
    delete meta.resourceVersion
    delete meta.deletionTimestamp
    delete meta.deletionGracePeriodSeconds
    if (WORKLOADS.has(d.kind)) meta.generation = 1
    const stored = this.defaults(d, {...object, apiVersion: apiVersionOf(d), kind: d.kind, metadata: meta})
    if (write && !write.applied) {
      delete stored.metadata.managedFields
      stored.metadata.managedFields = recordUpdate(undefined, stored, {apiVersion: apiVersionOf(d), manager: write.manager, scope: scopeOf(d, undefined)})
    }
    return this.store.put(d, stored) as T
  }

  private checkBody(d: ResourceDef, body: unknown): KubeObject {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('Object \'Kind\' is missing in \'null\'')
    const object = body as KubeObject
    if (object.kind !== undefined && object.kind !== d.kind) {
      throw badRequest(`the API version in the data (${object.apiVersion}) does not match the expected API version (${apiVersionOf(d)})`)
    }
    return {...object, metadata: {...(object.metadata ?? {name: ''})}}
  }

  private defaults(d: ResourceDef, object: KubeObject): KubeObject {
    switch (d.kind) {
      case 'Pod': {
        const pod = object as Pod
        if (!Array.isArray(pod.spec?.containers) || pod.spec.containers.length === 0) {
          throw invalid('Pod', pod.metadata.name, [{field: 'spec.containers', message: 'Required value', reason: 'FieldValueRequired'}])
        }
        pod.spec = {dnsPolicy: 'ClusterFirst', restartPolicy: 'Always', schedulerName: 'default-scheduler', terminationGracePeriodSeconds: 30, ...pod.spec}
        pod.status = {phase: 'Pending', qosClass: 'BestEffort', ...pod.status}
        return pod
      }
      case 'Namespace':
        return {...object, spec: {finalizers: ['kubernetes']}, status: {phase: 'Active'}}
      case 'Deployment':
      case 'ReplicaSet': {
        const w = object as Deployment
        w.spec = {...w.spec, replicas: w.spec?.replicas ?? 1}
        if (d.kind === 'Deployment') {
          w.spec = {progressDeadlineSeconds: 600, revisionHistoryLimit: 10, strategy: {rollingUpdate: {maxSurge: '25%', maxUnavailable: '25%'}, type: 'RollingUpdate'}, ...w.spec}
        }
        w.status = w.status ?? {}
        return w
      }
      case 'DaemonSet': {
        const ds = object as DaemonSet
        ds.spec = {revisionHistoryLimit: 10, updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}, type: 'RollingUpdate'}, ...ds.spec}
        return ds
      }
      case 'Secret': {
        // The API server folds write-only stringData into data.
        const {stringData, ...secret} = object as KubeObject & {data?: Record<string, string>; stringData?: Record<string, string>; type?: string}
        const data = {...secret.data}
        for (const [k, v] of Object.entries(stringData ?? {})) data[k] = Buffer.from(v).toString('base64')
        return {...secret, ...(Object.keys(data).length > 0 ? {data} : {}), type: secret.type ?? 'Opaque'}
      }
      case 'Service':
        return this.serviceDefaults(object)
      case 'PodDisruptionBudget':
        return {...object, status: {currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0, expectedPods: 0, observedGeneration: 0}}
      default:
        return object
    }
  }

  /** ClusterIP from 10.96.0.0/12 (kubeadm's default service subnet), ports with their protocol and targetPort. */
  private serviceDefaults(object: KubeObject): KubeObject {
    const spec = {...(object.spec as Record<string, unknown> | undefined)}
    spec.type ??= 'ClusterIP'
    if (spec.type !== 'ExternalName') {
      if (spec.clusterIP === undefined || spec.clusterIP === '') spec.clusterIP = this.freeClusterIp()
      spec.clusterIPs ??= [spec.clusterIP]
      spec.ipFamilies ??= ['IPv4']
      spec.ipFamilyPolicy ??= 'SingleStack'
      spec.internalTrafficPolicy ??= 'Cluster'
    }
    spec.sessionAffinity ??= 'None'
    if (Array.isArray(spec.ports)) {
      spec.ports = (spec.ports as Array<Record<string, unknown>>).map((p) => ({protocol: 'TCP', targetPort: p.port, ...p}))
    }
    return {...object, spec, status: {loadBalancer: {}}}
  }

  private freeClusterIp(): string {
    const used = new Set(this.all(SERVICES).map((s) => (s.spec as {clusterIP?: string} | undefined)?.clusterIP))
    for (let i = 1; i < 4094 * 256; i++) {
      const ip = `10.${96 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`
      if (i % 256 !== 0 && !used.has(ip)) return ip
    }
    throw new KubeError(500, 'InternalError', 'Internal error occurred: failed to allocate a serviceIP: range is full')
  }

  /** PUT of an object (or of its `status`/`approval` subresource), with the resourceVersion precondition. */
  update<T extends KubeObject = KubeObject>(d: ResourceDef, namespace: string | undefined, name: string, body: unknown, subresource?: string, write?: WriteContext & {applied?: boolean}): T {
    const current = this.get(d, namespace, name)
    const object = this.checkBody(d, body)
    if (object.metadata.name && object.metadata.name !== name) {
      throw badRequest(`the name of the object (${object.metadata.name}) does not match the name on the URL (${name})`)
    }
    if (object.metadata.resourceVersion && object.metadata.resourceVersion !== current.metadata.resourceVersion) throw conflict(gr(d), name)
    const hasStatus = 'status' in d.subresources
    let next: KubeObject
    if (subresource === 'status' || subresource === 'approval') {
      next = {...current, status: object.status}
    } else {
      next = {...object, apiVersion: apiVersionOf(d), kind: d.kind}
      if (hasStatus) next.status = current.status
      next.metadata = {
        ...object.metadata,
        creationTimestamp: current.metadata.creationTimestamp,
        deletionGracePeriodSeconds: current.metadata.deletionGracePeriodSeconds,
        deletionTimestamp: current.metadata.deletionTimestamp,
        generation: current.metadata.generation,
        name,
        namespace: current.metadata.namespace,
        resourceVersion: current.metadata.resourceVersion,
        uid: current.metadata.uid,
      }
      for (const key of Object.keys(next.metadata) as Array<keyof ObjectMeta>) if (next.metadata[key] === undefined) delete next.metadata[key]
      if (current.metadata.generation !== undefined && JSON.stringify(next.spec) !== JSON.stringify(current.spec)) {
        next.metadata.generation = current.metadata.generation + 1
      }
    }
    if (write?.applied) {
      next.metadata.managedFields = object.metadata.managedFields
    } else if (write) {
      next.metadata.managedFields = recordUpdate(current, next, {apiVersion: apiVersionOf(d), manager: write.manager, scope: scopeOf(d, subresource), subresource})
    }
    if (!next.metadata.managedFields?.length) delete next.metadata.managedFields
    if (sameContent(next, current)) return current as T
    if (d !== PODS && next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      // The last finalizer is gone: the deletion completes.
      this.store.remove(d, namespace, name)
      return next as T
    }
    return this.store.put(d, next) as T
  }

  patch<T extends KubeObject = KubeObject>(d: ResourceDef, namespace: string | undefined, name: string, type: string, patch: unknown, subresource?: string, write?: WriteContext): T {
    const current = this.get(d, namespace, name)
    const patched = applyPatch(type, current, patch)
    return this.update<T>(d, namespace, name, patched, subresource, write)
  }

  /**
   * Server-side apply (`PATCH` with `application/apply-patch+yaml`): creates the object the URL names
   * when it is absent, else merges the configuration into it with field ownership (fieldmanager.ts).
   * Checks in the order of the apiserver's patch handler: the kind (versionCheckManager), no
   * managedFields in the body, conflicts, then the namespace and the name against the URL.
   */
  apply(d: ResourceDef, namespace: string | undefined, name: string, body: unknown, request: ApplyRequest): {created: boolean; object: KubeObject} {
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw badRequest(`error decoding YAML: json: cannot unmarshal ${Array.isArray(body) ? 'array' : typeof body === 'string' ? 'string' : 'number'} into Go value of type map[string]interface {}`)
    }
    const config = body as KubeObject
    if (config.apiVersion !== apiVersionOf(d) || config.kind !== d.kind) throw badRequest(`invalid object type: ${gvkString(config.apiVersion, config.kind)}`)
    if (config.metadata?.managedFields !== undefined && config.metadata.managedFields !== null) throw badRequest('metadata.managedFields must be nil')
    const live = this.find(d, namespace, name)
    if (!live && request.subresource) throw notFound(gr(d), name)
    const merged = applyConfig(live, {...config, metadata: {...(config.metadata ?? {name: ''})}}, {
      apiVersion: apiVersionOf(d), force: request.force, manager: request.fieldManager, scope: scopeOf(d, request.subresource), subresource: request.subresource,
    })
    const objectNamespace = merged.metadata.namespace
    if (d.namespaced && objectNamespace && namespace && objectNamespace !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
    if (merged.metadata.name !== name) throw badRequest(`the name of the object (${merged.metadata.name ?? ''}) does not match the name on the URL (${name})`)
    const write = {applied: true, manager: request.fieldManager}
    if (!live) return {created: true, object: this.create(d, namespace, merged, write)}
    return {created: false, object: this.update(d, namespace, name, merged, request.subresource, write)}
  }

  /** DELETE: pods terminate gracefully; objects with finalizers wait; others go at once (dependents are collected by the controllers). */
  delete(d: ResourceDef, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject | StatusBody {
    const current = this.get(d, namespace, name)
    const pre = options.preconditions
    if (pre?.uid && pre.uid !== current.metadata.uid) {
      throw conflict(gr(d), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`)
    }
    if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(gr(d), name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`)
    }
    if (d === PODS) return this.deletePod(current as Pod, options.gracePeriodSeconds)
    if (options.propagationPolicy === 'Orphan') this.orphanDependents(current)
    if (current.metadata.finalizers?.length) {
      if (!current.metadata.deletionTimestamp) {
        current.metadata.deletionTimestamp = timestamp()
        current.metadata.deletionGracePeriodSeconds = 0
        return this.store.put(d, current)
      }
      return current
    }
    if (d === NAMESPACES) {
      for (const key of Object.keys(this.store.state.objects)) {
        const [group, resource, ns] = key.split('|')
        const rd = findResource(group ?? '', 'v1', resource ?? '')
        if (rd?.namespaced && ns === name) this.store.remove(rd, ns, key.split('|')[3] ?? '')
      }
    }
    this.store.remove(d, namespace, name)
    const detail: StatusBody['details'] = {kind: d.name, name, uid: current.metadata.uid}
    if (d.group) detail.group = d.group
    return success(200, detail)
  }

  private orphanDependents(owner: KubeObject): void {
    for (const d of [PODS, REPLICASETS]) {
      for (const object of this.all(d, owner.metadata.namespace)) {
        const refs = object.metadata.ownerReferences ?? []
        if (!refs.some((r) => r.uid === owner.metadata.uid)) continue
        object.metadata.ownerReferences = refs.filter((r) => r.uid !== owner.metadata.uid)
        this.store.put(d, object)
      }
    }
  }

  deletePod(pod: Pod, gracePeriodSeconds?: number): Pod {
    const namespace = pod.metadata.namespace ?? 'default'
    const grace = gracePeriodSeconds ?? pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30
    const stuck = this.faults.podStuck(namespace, pod.metadata.name)
    const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed'
    if (!stuck && (grace <= 0 || !pod.spec.nodeName || terminal)) {
      this.store.remove(PODS, namespace, pod.metadata.name)
      this.deadlines.delete(pod.metadata.uid ?? '')
      return pod
    }
    const previous = pod.metadata.deletionGracePeriodSeconds
    if (pod.metadata.deletionTimestamp && previous !== undefined && previous <= grace) return pod
    const now = Date.now()
    pod.metadata.deletionTimestamp = timestamp(now + grace * 1000)
    pod.metadata.deletionGracePeriodSeconds = grace
    this.deadlines.set(pod.metadata.uid ?? '', now + grace * 1000 * this.gracePeriodScale)
    return this.store.put(PODS, pod)
  }

  /** The desired replicas of a pod's controller, for PDB maxUnavailable and percentages. */
  private scaleOf = (pod: Pod): {key: string; replicas: number} | undefined => {
    const ref = pod.metadata.ownerReferences?.find((r) => r.controller)
    if (ref?.kind !== 'ReplicaSet') return undefined
    const rs = this.find<ReplicaSet>(REPLICASETS, pod.metadata.namespace, ref.name)
    if (!rs) return undefined
    const owner = rs.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment')
    const deployment = owner ? this.find<Deployment>(DEPLOYMENTS, pod.metadata.namespace, owner.name) : undefined
    if (deployment) return {key: `deployment/${deployment.metadata.name}`, replicas: deployment.spec.replicas ?? 1}
    return {key: `replicaset/${rs.metadata.name}`, replicas: rs.spec.replicas ?? 1}
  }

  /** Recompute every PDB's status (the disruption controller), writing only the ones that changed. */
  refreshPdbs(): void {
    const pods = this.all<Pod>(PODS)
    for (const pdb of this.all<PodDisruptionBudget>(PDBS)) {
      const blocked = this.faults.pdbBlocked(pdb.metadata.namespace ?? '', pdb.metadata.name)
      const status = computePdbStatus(pdb, pods, this.scaleOf, blocked, timestamp())
      if (JSON.stringify(status) !== JSON.stringify(pdb.status)) this.store.put(PDBS, {...pdb, status})
    }
  }

  /** POST pods/{name}/eviction (policy/v1 Eviction); answers the Status the real server does. */
  evict(namespace: string, name: string, body: unknown): StatusBody {
    const eviction = (body ?? {}) as {deleteOptions?: DeleteOptions; metadata?: {name?: string}}
    if (eviction.metadata?.name && eviction.metadata.name !== name) throw badRequest(`name in URL does not match name in Eviction object`)
    const pod = this.get<Pod>(PODS, namespace, name)
    const options = eviction.deleteOptions ?? {}
    const phase = pod.status?.phase
    if (phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || pod.metadata.deletionTimestamp) {
      this.deletePod(pod, options.gracePeriodSeconds)
      return success(201)
    }
    this.refreshPdbs()
    const pdbs = this.all<PodDisruptionBudget>(PDBS, namespace).filter((p) => pdbSelects(p, pod))
    if (pdbs.length > 1) {
      return {apiVersion: 'v1', code: 500, kind: 'Status', message: 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.', metadata: {}, status: 'Failure'}
    }
    const pdb = pdbs[0]
    if (pdb?.status) {
      const s = pdb.status
      const unhealthyButCovered = !podReady(pod) && s.currentHealthy >= s.desiredHealthy && s.desiredHealthy > 0
      if (!unhealthyButCovered) {
        if (s.disruptionsAllowed === 0) {
          throw new KubeError(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
            causes: [{message: `The disruption budget ${pdb.metadata.name} needs ${s.desiredHealthy} healthy pods and has ${s.currentHealthy} currently`, reason: 'DisruptionBudget'}],
          })
        }
        this.store.put(PDBS, {...pdb, status: {...s, disruptedPods: {...s.disruptedPods, [name]: timestamp()}, disruptionsAllowed: s.disruptionsAllowed - 1}})
      }
    }
    const latest = this.get<Pod>(PODS, namespace, name)
    latest.status = {
      ...latest.status,
      conditions: [
        ...(latest.status?.conditions ?? []).filter((c) => c.type !== 'DisruptionTarget'),
        {lastTransitionTime: timestamp(), message: 'Eviction API: evicting', reason: 'EvictionByEvictionAPI', status: 'True', type: 'DisruptionTarget'},
      ],
    }
    this.deletePod(this.store.put(PODS, latest), options.gracePeriodSeconds)
    return success(201)
  }
}
