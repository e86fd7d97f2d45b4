/**
 * The CNI manifest (cluster.cni.manifest), read and checked before any VM exists, so that a typo'd
 * path or a broken download fails the bootstrap in seconds instead of after kubeadm init. It is
 * parsed the way kubectl reads manifests (YAML 1.1: `0644` is octal, `yes` a boolean), one object
 * per document, `List` kinds expanded, every object named (server-side apply needs a name).
 */
import {readFile} from 'node:fs/promises'
import path from 'node:path'

import {isMap, isScalar, LineCounter, parseAllDocuments} from 'yaml'

import {DEFAULT_CNI_MANIFEST} from '../config/defaults.js'
import type {KpConfig} from '../config/schema.js'
import {errorMessage, UsageError} from '../errors.js'
import {httpGet} from './http.js'

/** A Kubernetes object as a manifest holds it; structurally client-node's KubernetesObject. */
export interface KubernetesObject {
  [key: string]: unknown
  apiVersion: string
  kind: string
  metadata: {[key: string]: unknown; name: string; namespace?: string}
}

export interface CniOptions {
  fetch?: typeof fetch
  signal?: AbortSignal
  /** For a URL; default 30 s. */
  timeoutMs?: number
}

/** Manifests are a few hundred KiB (Calico's is the largest, ~1 MiB with its CRDs). */
const MAX_BYTES = 16 * 1024 * 1024

export async function loadCniManifest(config: KpConfig, configDir: string, options: CniOptions = {}): Promise<KubernetesObject[]> {
  const manifest = config.cluster.cni.manifest
  if (/^https:\/\//i.test(manifest)) return parseManifest(await download(manifest, options), manifest)
  const file = path.resolve(configDir, manifest)
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    const hint = `Save the CNI's manifest there (for flannel: curl -fsSLo ${file} ${DEFAULT_CNI_MANIFEST}), or set cluster.cni.manifest to its https:// URL.`
    if (error.code === 'ENOENT') throw new UsageError(`cluster.cni.manifest: ${file} does not exist`, {hint})
    if (error.code === 'EISDIR') throw new UsageError(`cluster.cni.manifest: ${file} is a folder, not a manifest`, {hint})
    throw new UsageError(`cluster.cni.manifest: cannot read ${file}: ${error.code === 'EACCES' ? 'permission denied' : errorMessage(error)}`)
  })
  return parseManifest(text, file)
}

async function download(url: string, options: CniOptions): Promise<string> {
  const fail = (why: string) => new UsageError(`cluster.cni.manifest: ${url}: ${why}`, {hint: 'Check the URL, or download the manifest and set cluster.cni.manifest to the local file.'})
  const answer = await httpGet(url, {fetch: options.fetch, maxBytes: MAX_BYTES, signal: options.signal, timeoutMs: options.timeoutMs ?? 30_000}).catch((error: Error) => {
    if (options.signal?.aborted) throw error
    throw fail(`cannot download it: ${error.message}`)
  })
  // A redirect to plain http would let anyone on the path choose what runs with cluster-admin rights.
  if (!answer.url.startsWith('https://')) throw fail(`it redirects to ${answer.url}, which is not https`)
  if (!answer.ok) throw fail(`the server answered HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ''}`)
  return answer.body.toString('utf8')
}

/** Every object of a multi-document manifest; `source` names it in errors. Throws UsageError. */
export function parseManifest(text: string, source: string): KubernetesObject[] {
  const lineCounter = new LineCounter()
  const parsed = parseAllDocuments(text, {lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.1'})
  const docs = Array.isArray(parsed) ? parsed : []
  const objects: KubernetesObject[] = []
  const fail = (where: string, why: string) =>
    new UsageError(`cluster.cni.manifest ${source}: ${where}: ${why}`, {hint: 'Fix the manifest (kubectl apply --dry-run=client -f FILE shows the same), or point cluster.cni.manifest at the CNI\'s published one.'})
  docs.forEach((doc, i) => {
    const offset = doc.contents?.range[0] ?? doc.range[0]
    const where = `document ${i + 1} (line ${lineCounter.linePos(offset).line})`
    const error = doc.errors[0]
    if (error) throw fail(`document ${i + 1} (line ${lineCounter.linePos(error.pos[0]).line})`, `YAML syntax error: ${error.message.split(/ at line \d+/)[0]!.trim()}`)
    // Empty documents (a leading ---, a trailing one, comments only) are skipped, as kubectl does.
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return
    if (!isMap(doc.contents)) throw fail(where, 'not a Kubernetes object (a mapping with apiVersion, kind and metadata)')
    let value: Record<string, unknown>
    try {
      value = doc.toJS({maxAliasCount: 1000}) as Record<string, unknown>
    } catch (err) {
      throw fail(where, errorMessage(err))
    }

    const object = checkObject(value, (why) => fail(where, why))
    if (!isList(object)) {
      objects.push(object)
      return
    }

    const items = object.items
    if (!Array.isArray(items)) throw fail(where, `${object.kind} without an items list`)
    // Typed lists (ConfigMapList) may leave apiVersion and kind out of their items.
    const itemKind = object.kind === 'List' ? undefined : object.kind.slice(0, -'List'.length)
    items.forEach((item: unknown, j) => {
      const defaults = itemKind ? {apiVersion: object.apiVersion, kind: itemKind} : {}
      const withDefaults = item && typeof item === 'object' && !Array.isArray(item) ? {...defaults, ...(item as Record<string, unknown>)} : item
      objects.push(checkObject(withDefaults, (why) => fail(`${where}, items[${j}]`, why)))
    })
  })
  if (objects.length === 0) throw fail('the whole file', 'it holds no Kubernetes objects')
  return objects
}

function isList(object: KubernetesObject): boolean {
  return object.kind.endsWith('List') && 'items' in object
}

function checkObject(value: unknown, fail: (why: string) => Error): KubernetesObject {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw fail('not a Kubernetes object (a mapping with apiVersion, kind and metadata)')
  const object = value as Record<string, unknown>
  if (typeof object.apiVersion !== 'string' || object.apiVersion === '') throw fail('no apiVersion')
  if (typeof object.kind !== 'string' || object.kind === '') throw fail('no kind')
  if (object.kind.endsWith('List') && 'items' in object) return object as KubernetesObject
  const metadata = object.metadata as Record<string, unknown> | undefined
  if (typeof metadata?.name !== 'string' || metadata.name === '') throw fail(`${object.kind} without metadata.name (server-side apply needs a name)`)
  return object as KubernetesObject
}
