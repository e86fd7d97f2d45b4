/**
 * Field ownership for server-side apply, after sigs.k8s.io/structured-merge-diff as the API server
 * uses it (k8s.io/apimachinery/pkg/util/managedfields): every write records which manager owns which
 * fields in `metadata.managedFields` (FieldsV1); an apply merges the applied configuration into the
 * live object, drops the fields its manager applied last time and no longer applies (unless someone
 * else owns them), and fails with a 409 naming every field another manager owns and the apply would
 * change, unless forced, when those fields change hands.
 *
 * Simplified: the schema is a short table instead of the OpenAPI models (lists merged by key:
 * containers, env, ports…; `finalizers` as a set; label selectors and roleRef atomic; every other list
 * atomic), Update entries own the leaves they changed (no `.` markers for maps they created), and
 * there is one version per resource, so nothing is converted.
 */
import {KubeError} from './status.js'
import {type KubeObject, type ManagedFieldsEntry, timestamp} from './types.js'

/** Which part of the object a write may touch: the resource without its status, or the status subresource. */
export type WriteScope = 'main' | 'status' | 'whole'

interface Field {
  /** A scalar, an atomic list or map, an empty map, or a set member: compared by value. */
  leaf: boolean
  path: string[]
  value: unknown
}

/** Paths (FieldsV1 keys joined by NUL) to what is there. */
type FieldSet = Map<string, Field>

type Obj = Record<string, unknown>

function isObject(value: unknown): value is Obj {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** JSON with sorted keys, so equal values compare equal whatever the order their maps were written in. */
function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`
  if (isObject(value)) return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(',')}}`
  return JSON.stringify(value) ?? 'null'
}

/** `patchMergeKey`/`listMapKey` of the lists k8s.io/api merges by key; `ports` depends on where it is. */
const LIST_KEYS: Record<string, string[]> = {
  conditions: ['type'],
  containers: ['name'],
  env: ['name'],
  ephemeralContainers: ['name'],
  hostAliases: ['ip'],
  imagePullSecrets: ['name'],
  initContainers: ['name'],
  ownerReferences: ['uid'],
  resourceClaims: ['name'],
  secrets: ['name'],
  topologySpreadConstraints: ['topologyKey', 'whenUnsatisfiable'],
  volumeDevices: ['devicePath'],
  volumeMounts: ['mountPath'],
  volumes: ['name'],
}
const SET_LISTS = new Set(['finalizers'])
/** Key fields the schema defaults, so an item without them still has its key. */
const KEY_DEFAULTS: Record<string, unknown> = {protocol: 'TCP'}
/** `+structType=atomic`: LabelSelector and RoleRef change as a whole. */
const SELECTORS = new Set(['labelSelector', 'namespaceSelector', 'podSelector', 'selector'])

function listKeys(field: string | undefined, list: unknown[]): string[] | 'atomic' | 'set' {
  if (field && SET_LISTS.has(field)) return 'set'
  let keys = field ? LIST_KEYS[field] : undefined
  if (field === 'ports') keys = list.some((i) => isObject(i) && 'containerPort' in i) ? ['containerPort', 'protocol'] : ['port', 'protocol']
  if (!keys || !list.every((i) => isObject(i) && keys.every((k) => k in i || k in KEY_DEFAULTS))) return 'atomic'
  return keys
}

function atomicMap(field: string | undefined, value: Obj): boolean {
  if (field === 'roleRef') return true
  return field !== undefined && SELECTORS.has(field) && ('matchLabels' in value || 'matchExpressions' in value)
}

function keyElement(item: Obj, keys: string[]): string {
  const key: Obj = {}
  for (const k of [...keys].sort()) key[k] = item[k] ?? KEY_DEFAULTS[k]
  return `k:${JSON.stringify(key)}`
}

const join = (path: string[]): string => path.join('\u0000')

function walkMap(map: Obj, path: string[], out: FieldSet): void {
  for (const [key, child] of Object.entries(map)) walkValue(child, key, [...path, `f:${key}`], out)
}

function walkValue(value: unknown, field: string | undefined, path: string[], out: FieldSet): void {
  if (isObject(value) && Object.keys(value).length > 0 && !atomicMap(field, value)) {
    walkMap(value, path, out)
    return
  }
  if (Array.isArray(value)) {
    const shape = listKeys(field, value)
    if (shape === 'set') {
      for (const v of value) {
        const p = [...path, `v:${JSON.stringify(v)}`]
        out.set(join(p), {leaf: true, path: p, value: v})
      }
      return
    }
    if (shape !== 'atomic') {
      for (const item of value as Obj[]) {
        const p = [...path, keyElement(item, shape)]
        out.set(join(p), {leaf: false, path: p, value: item})
        walkMap(item, p, out)
      }
      return
    }
  }
  out.set(join(path), {leaf: true, path, value})
}

/** What the field manager strips before it tracks anything (StripMetaManager). */
const SYSTEM_METADATA = ['creationTimestamp', 'deletionGracePeriodSeconds', 'deletionTimestamp', 'generation', 'managedFields', 'name', 'namespace', 'resourceVersion', 'selfLink', 'uid']

/** The fields of an object a write in `scope` owns, with their values. */
export function fieldSet(object: Partial<KubeObject> | undefined, scope: WriteScope): FieldSet {
  const out: FieldSet = new Map()
  if (!object) return out
  const {apiVersion: _v, kind: _k, metadata, ...rest} = object
  if (scope === 'status') {
    if (rest.status !== undefined) walkValue(rest.status, 'status', ['f:status'], out)
    return out
  }
  if (scope === 'main') delete rest.status
  const meta: Obj = {...metadata}
  for (const key of SYSTEM_METADATA) delete meta[key]
  walkMap({...(Object.keys(meta).length > 0 ? {metadata: meta} : {}), ...rest}, [], out)
  return out
}

/** FieldsV1: `{"f:data":{"f:key":{}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}`. */
export function encodeFieldsV1(paths: Iterable<string[]>): Record<string, unknown> {
  interface Node {
    children: Map<string, Node>
    member: boolean
  }
  const root: Node = {children: new Map(), member: false}
  for (const path of paths) {
    let node = root
    for (const element of path) {
      let next = node.children.get(element)
      if (!next) {
        next = {children: new Map(), member: false}
        node.children.set(element, next)
      }
      node = next
    }
    node.member = true
  }
  const render = (node: Node): Record<string, unknown> => {
    const out: Record<string, unknown> = node.member && node.children.size > 0 ? {'.': {}} : {}
    for (const key of [...node.children.keys()].sort()) out[key] = render(node.children.get(key)!)
    return out
  }
  return render(root)
}

export function decodeFieldsV1(fields: unknown): Set<string> {
  const out = new Set<string>()
  const visit = (node: unknown, path: string[]) => {
    if (!isObject(node)) return
    const keys = Object.keys(node)
    if (path.length > 0 && (keys.length === 0 || keys.includes('.'))) out.add(join(path))
    for (const key of keys) if (key !== '.') visit(node[key], [...path, key])
  }
  visit(fields, [])
  return out
}

/** fieldpath.Path's String(): `.spec.template.spec.containers[name="c"].image`. */
export function pathString(path: string[]): string {
  return path
    .map((element) => {
      const body = element.slice(2)
      if (element.startsWith('f:')) return `.${body}`
      if (element.startsWith('v:')) return `[=${body}]`
      const key = JSON.parse(body) as Obj
      return `[${Object.keys(key).map((k) => `${k}=${JSON.stringify(key[k])}`).join(',')}]`
    })
    .join('')
}

function identity(entry: Pick<ManagedFieldsEntry, 'apiVersion' | 'manager' | 'operation' | 'subresource'>): string {
  // For appliers the apiVersion is not part of the identity (BuildManagerIdentifier).
  return JSON.stringify([entry.manager, entry.operation, entry.operation === 'Apply' ? '' : entry.apiVersion, entry.subresource ?? ''])
}

/** printManager in managedfields/internal/conflict.go: `"kubectl-edit" using v1`, `"helm"`. */
function printManager(entry: ManagedFieldsEntry): string {
  let out = JSON.stringify(entry.manager)
  if (entry.subresource) out += ` with subresource ${JSON.stringify(entry.subresource)}`
  return entry.operation === 'Update' ? `${out} using ${entry.apiVersion}` : out
}

function conflictError(conflicts: Array<{entry: ManagedFieldsEntry; path: string[]}>): KubeError {
  let message: string
  if (conflicts.length === 1) {
    const [only] = conflicts
    message = `Apply failed with 1 conflict: conflict with ${printManager(only!.entry)}: ${pathString(only!.path)}`
  } else {
    const byManager = new Map<string, {entry: ManagedFieldsEntry; paths: string[][]}>()
    for (const c of conflicts) {
      const id = identity(c.entry)
      const group = byManager.get(id) ?? {entry: c.entry, paths: []}
      group.paths.push(c.path)
      byManager.set(id, group)
    }
    const lines: string[] = []
    for (const id of [...byManager.keys()].sort()) {
      const group = byManager.get(id)!
      lines.push(`conflicts with ${printManager(group.entry)}:`, ...group.paths.map((p) => `- ${pathString(p)}`))
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`
  }
  const causes = conflicts.map((c) => ({field: pathString(c.path), message: `conflict with ${printManager(c.entry)}`, reason: 'FieldManagerConflict'}))
  return new KubeError(409, 'Conflict', message, {causes})
}

function mergeValue(live: unknown, config: unknown, field: string | undefined): unknown {
  if (isObject(config)) {
    if (!isObject(live) || atomicMap(field, config)) return structuredClone(config)
    const out: Obj = {...live}
    for (const [key, value] of Object.entries(config)) {
      if (value === null) delete out[key]
      else out[key] = mergeValue(live[key], value, key)
    }
    return out
  }
  if (Array.isArray(config)) {
    const shape = listKeys(field, config)
    if (shape === 'atomic' || !Array.isArray(live) || (shape !== 'set' && listKeys(field, live) === 'atomic')) return structuredClone(config)
    const out = structuredClone(live) as unknown[]
    if (shape === 'set') {
      for (const v of config) if (!out.some((o) => stable(o) === stable(v))) out.push(v)
      return out
    }
    for (const item of config as Obj[]) {
      const key = keyElement(item, shape)
      const index = out.findIndex((o) => isObject(o) && keyElement(o, shape) === key)
      if (index >= 0) out[index] = mergeValue(out[index], item, undefined)
      else out.push(structuredClone(item))
    }
    return out
  }
  return config
}

/** Remove one field (or list item, or set member) from an object; missing paths are ignored. */
function removePath(object: Obj, path: string[]): void {
  let parent: unknown = object
  for (let i = 0; i < path.length; i++) {
    const element = path[i]!
    const last = i === path.length - 1
    if (element.startsWith('f:')) {
      if (!isObject(parent)) return
      if (last) delete parent[element.slice(2)]
      else parent = parent[element.slice(2)]
      continue
    }
    if (!Array.isArray(parent)) return
    const list = parent
    const index = element.startsWith('v:')
      ? list.findIndex((v) => stable(v) === stable(JSON.parse(element.slice(2))))
      : list.findIndex((o) => isObject(o) && keyElement(o, Object.keys(JSON.parse(element.slice(2)) as Obj)) === element)
    if (index < 0) return
    if (last) list.splice(index, 1)
    else parent = list[index]
  }
}

function withoutManaged(object: KubeObject | undefined): string {
  if (!object) return ''
  return stable({...object, metadata: {...object.metadata, managedFields: undefined, resourceVersion: undefined}})
}

export interface ApplyOptions {
  /** The resource's apiVersion (`apps/v1`), recorded in the entry. */
  apiVersion: string
  force: boolean
  manager: string
  scope: WriteScope
  subresource?: string
}

/**
 * Server-side apply of `config` to `live` (undefined: the object does not exist yet). Returns the
 * merged object with its new managedFields; throws a 409 Conflict listing the fields other managers
 * own and the apply would change, unless `force`, when they lose them.
 */
export function applyConfig(live: KubeObject | undefined, config: KubeObject, options: ApplyOptions): KubeObject {
  const applied = fieldSet(config, options.scope)
  const current = fieldSet(live, options.scope)
  const entries: ManagedFieldsEntry[] = structuredClone(live?.metadata.managedFields ?? [])
  const me: ManagedFieldsEntry = {apiVersion: options.apiVersion, fieldsType: 'FieldsV1', fieldsV1: {}, manager: options.manager, operation: 'Apply', time: timestamp()}
  if (options.subresource) me.subresource = options.subresource
  const myId = identity(me)
  const previous = entries.find((e) => identity(e) === myId)
  const others = entries.filter((e) => identity(e) !== myId).map((entry) => ({entry, set: decodeFieldsV1(entry.fieldsV1)}))

  // A field conflicts when another manager owns it and the apply would add or change it.
  const conflicts: Array<{entry: ManagedFieldsEntry; path: string[]; key: string}> = []
  for (const {entry, set} of others) {
    for (const [key, field] of applied) {
      if (!set.has(key)) continue
      const there = current.get(key)
      const emptyMapOverMap = isObject(field.value) && Object.keys(field.value).length === 0 && isObject(there?.value)
      if (!there || (field.leaf && !emptyMapOverMap && stable(there.value) !== stable(field.value))) conflicts.push({entry, key, path: field.path})
    }
  }
  if (conflicts.length > 0 && !options.force) throw conflictError(conflicts)
  for (const c of conflicts) others.find((o) => o.entry === c.entry)?.set.delete(c.key)

  const merged = mergeValue(live ?? {}, config, undefined) as KubeObject
  // Fields this manager applied before and no longer applies go, unless another manager owns them.
  for (const key of previous ? decodeFieldsV1(previous.fieldsV1) : []) {
    if (applied.has(key) || others.some((o) => o.set.has(key))) continue
    removePath(merged, key.split('\u0000'))
  }

  me.fieldsV1 = encodeFieldsV1([...applied.values()].map((f) => f.path))
  const changed = withoutManaged(merged) !== withoutManaged(live)
  if (previous && !changed && stable(previous.fieldsV1) === stable(me.fieldsV1)) me.time = previous.time
  const next: ManagedFieldsEntry[] = []
  for (const entry of entries) {
    if (identity(entry) === myId) {
      next.push(me)
      continue
    }
    const other = others.find((o) => o.entry === entry)!
    if (other.set.size === 0) continue
    next.push({...entry, fieldsV1: encodeFieldsV1([...other.set].map((k) => k.split('\u0000')))})
  }
  if (!previous) next.push(me)
  merged.metadata = {...merged.metadata, managedFields: next}
  return merged
}

export interface UpdateOptions {
  apiVersion: string
  manager: string
  scope: WriteScope
  subresource?: string
}

/**
 * The managedFields after an ordinary write (create, update, patch): the writer owns what it added or
 * changed, which other managers lose; fields that are gone leave every set.
 */
export function recordUpdate(old: KubeObject | undefined, next: KubeObject, options: UpdateOptions): ManagedFieldsEntry[] {
  const before = fieldSet(old, options.scope)
  const after = fieldSet(next, options.scope)
  const changed = new Set<string>()
  for (const [key, field] of after) {
    const was = before.get(key)
    if (!was || (field.leaf && stable(was.value) !== stable(field.value))) changed.add(key)
  }
  const removed = [...before.keys()].filter((k) => !after.has(k))
  const entries: ManagedFieldsEntry[] = structuredClone(old?.metadata.managedFields ?? [])
  if (changed.size === 0 && removed.length === 0) return entries
  const me: ManagedFieldsEntry = {apiVersion: options.apiVersion, fieldsType: 'FieldsV1', fieldsV1: {}, manager: options.manager, operation: 'Update', time: timestamp()}
  if (options.subresource) me.subresource = options.subresource
  const myId = identity(me)
  const out: ManagedFieldsEntry[] = []
  let mine: Set<string> | undefined
  for (const entry of entries) {
    const set = decodeFieldsV1(entry.fieldsV1)
    for (const key of removed) set.delete(key)
    if (identity(entry) === myId) {
      mine = set
      continue
    }
    for (const key of changed) set.delete(key)
    if (set.size > 0) out.push({...entry, fieldsV1: encodeFieldsV1([...set].map((k) => k.split('\u0000')))})
  }
  const owned = new Set([...(mine ?? []), ...changed])
  if (owned.size > 0) out.push({...me, fieldsV1: encodeFieldsV1([...owned].map((k) => k.split('\u0000')))})
  return out
}
