/**
 * The three PATCH formats the API server accepts: JSON merge patch (RFC 7386), strategic merge patch
 * (merge patch plus merge-by-key for the lists the Kubernetes types mark `patchStrategy:"merge"`; the
 * `$setElementOrder`, `$retainKeys` and `$patch` directives are honoured only as far as kubectl's
 * cordon, label and annotate need), and JSON patch (RFC 6902: add, remove, replace, test, move, copy).
 */
import {KubeError} from './status.js'

type Json = null | boolean | number | string | Json[] | {[key: string]: Json}

function isObject(value: unknown): value is Record<string, Json> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function clone<T>(value: T): T {
  return structuredClone(value)
}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch)
  const out: Record<string, unknown> = isObject(target) ? {...target} : {}
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = mergePatch(out[key], value)
  }
  return out
}

/** Lists merged by key under strategic merge patch (from the `patchMergeKey` tags of k8s.io/api). */
const MERGE_KEYS: Record<string, string> = {
  addresses: 'type',
  conditions: 'type',
  containers: 'name',
  env: 'name',
  ephemeralContainers: 'name',
  imagePullSecrets: 'name',
  initContainers: 'name',
  ownerReferences: 'uid',
  taints: 'key',
  volumeMounts: 'mountPath',
  volumes: 'name',
}

/** Lists of scalars merged as sets (`patchStrategy:"merge"` on a []string). */
const MERGE_SETS = new Set(['finalizers'])

function mergeList(target: unknown, patch: Json[], key: string): Json[] {
  const out: Json[] = Array.isArray(target) ? clone(target as Json[]) : []
  for (const item of patch) {
    if (!isObject(item)) continue
    const index = out.findIndex((o) => isObject(o) && o[key] === item[key])
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1)
      continue
    }
    if (index >= 0) out[index] = strategicMergePatch(out[index], item) as Json
    else out.push(strategicMergePatch({}, item) as Json)
  }
  return out
}

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch)
  if (patch.$patch === 'replace') {
    const rest: Record<string, Json> = {...patch}
    delete rest.$patch
    return clone(rest)
  }
  const out: Record<string, unknown> = isObject(target) ? {...target} : {}
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue
    if (key.startsWith('$setElementOrder/') || key.startsWith('$deleteFromPrimitiveList/')) continue
    if (value === null) {
      delete out[key]
    } else if (Array.isArray(value) && MERGE_KEYS[key]) {
      out[key] = mergeList(out[key], value, MERGE_KEYS[key])
    } else if (Array.isArray(value) && MERGE_SETS.has(key)) {
      const current = Array.isArray(out[key]) ? (out[key] as Json[]) : []
      out[key] = [...current, ...value.filter((v) => !current.includes(v))]
    } else {
      out[key] = strategicMergePatch(out[key], value)
    }
  }
  for (const [key, value] of Object.entries(patch)) {
    const m = /^\$deleteFromPrimitiveList\/(.+)$/.exec(key)
    if (m?.[1] && Array.isArray(out[m[1]]) && Array.isArray(value)) {
      out[m[1]] = (out[m[1]] as Json[]).filter((v) => !value.includes(v))
    }
  }
  return out
}

export interface JsonPatchOperation {
  from?: string
  op: 'add' | 'copy' | 'move' | 'remove' | 'replace' | 'test'
  path: string
  value?: unknown
}

function invalidPatch(message: string): KubeError {
  return new KubeError(422, 'Invalid', message)
}

function pointer(path: string): string[] {
  if (path === '') return []
  if (!path.startsWith('/')) throw invalidPatch(`the server rejected our request due to an error in our request: invalid JSON pointer "${path}"`)
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function parentOf(doc: unknown, tokens: string[], path: string): {key: string; parent: Record<string, unknown> | unknown[]} {
  let current: unknown = doc
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(token)]
    else if (isObject(current)) current = current[token]
    else current = undefined
    if (current === undefined) throw invalidPatch(`doc is missing path: "${path}": missing value`)
  }
  if (!Array.isArray(current) && !isObject(current)) throw invalidPatch(`doc is missing path: "${path}": missing value`)
  return {key: tokens[tokens.length - 1] ?? '', parent: current}
}

function getAt(doc: unknown, path: string): unknown {
  let current: unknown = doc
  for (const token of pointer(path)) {
    if (Array.isArray(current)) current = current[Number(token)]
    else if (isObject(current)) current = current[token]
    else return undefined
  }
  return current
}

function indexOf(parent: unknown[], key: string, path: string, forAdd: boolean): number {
  if (forAdd && key === '-') return parent.length
  const index = Number(key)
  if (!/^\d+$/.test(key) || index > parent.length || (!forAdd && index === parent.length)) throw invalidPatch(`unable to access invalid index: ${key} in "${path}"`)
  return index
}

function addAt(doc: unknown, path: string, value: unknown): unknown {
  const tokens = pointer(path)
  if (tokens.length === 0) return clone(value)
  const {key, parent} = parentOf(doc, tokens, path)
  if (Array.isArray(parent)) parent.splice(indexOf(parent, key, path, true), 0, clone(value))
  else parent[key] = clone(value)
  return doc
}

function removeAt(doc: unknown, path: string): unknown {
  const tokens = pointer(path)
  const {key, parent} = parentOf(doc, tokens, path)
  if (Array.isArray(parent)) {
    parent.splice(indexOf(parent, key, path, false), 1)
  } else {
    if (!Object.hasOwn(parent, key)) throw invalidPatch(`unable to remove nonexistent key: ${key}: missing value`)
    delete parent[key]
  }
  return doc
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw new KubeError(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch')
  let doc: unknown = clone(target)
  for (const raw of operations as JsonPatchOperation[]) {
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value)
        break
      case 'remove':
        doc = removeAt(doc, raw.path)
        break
      case 'replace':
        if (getAt(doc, raw.path) === undefined) throw invalidPatch(`replace operation does not apply: doc is missing key: ${raw.path}: missing value`)
        doc = addAt(removeAt(doc, raw.path), raw.path, raw.value)
        break
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) throw invalidPatch(`testing value ${raw.path} failed: test failed`)
        break
      case 'move': {
        const value = getAt(doc, raw.from ?? '')
        doc = addAt(removeAt(doc, raw.from ?? ''), raw.path, value)
        break
      }
      case 'copy':
        doc = addAt(doc, raw.path, getAt(doc, raw.from ?? ''))
        break
      default:
        throw invalidPatch(`Unexpected kind: ${String((raw as {op: unknown}).op)}`)
    }
  }
  return doc
}

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json'] as const

/** Server-side apply (cluster.apply and fieldmanager.ts), not a patch format of this file. */
export const APPLY_PATCH_TYPE = 'application/apply-patch+yaml'

export function applyPatch(type: string, target: unknown, patch: unknown): unknown {
  if (type === 'application/json-patch+json') return jsonPatch(target, patch)
  if (type === 'application/merge-patch+json') return mergePatch(target, patch)
  return strategicMergePatch(target, patch)
}
