/**
 * A kubeconfig file as a YAML document edited in place: kp changes only its own entries (and, when
 * asked, current-context), so every other entry, preference, extension, comment and key order stays
 * as the user or kubectl left it. A file that does not look like a kubeconfig is refused rather than
 * repaired: it may be something else the user keeps there, and kp must never destroy it.
 */
import {Document, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type YAMLMap} from 'yaml'

export const SECTIONS = ['clusters', 'users', 'contexts'] as const
export type Section = (typeof SECTIONS)[number]

/** One named entry of a section, in kubectl's own shape: `{cluster: {…}, name}`. */
export type NamedEntry = Record<string, unknown> & {name: string}

/** The text is not a kubeconfig; the message says why, without the file name (the caller adds it). */
export class NotAKubeconfigError extends Error {}

/** As kubectl writes: no line folding (base64 data stays on one line), list items not indented. */
export const TO_STRING = {indentSeq: false, lineWidth: 0, minContentWidth: 0} as const

/** Parse and check a kubeconfig; empty text (or only comments) is an empty kubeconfig. */
export function parseKubeconfig(text: string): Document {
  const lineCounter = new LineCounter()
  const docs = parseAllDocuments(text, {lineCounter, prettyErrors: false, uniqueKeys: true})
  if (docs.length === 0) {
    // Only comments (or nothing): keep the comments above a fresh kubeconfig.
    const doc = emptyKubeconfig()
    const comment = 'comment' in docs ? docs.comment : undefined
    if (comment) doc.commentBefore = comment
    return doc
  }

  if (docs.length > 1) throw new NotAKubeconfigError(`it holds ${docs.length} YAML documents; a kubeconfig is one`)
  const doc: Document = docs[0]!
  const error = doc.errors[0]
  if (error) {
    const {col, line} = lineCounter.linePos(error.pos[0])
    throw new NotAKubeconfigError(`YAML syntax error at line ${line}, column ${col}: ${error.message.split(/ at line \d+/)[0]!.trim()}`)
  }

  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    doc.contents = doc.createNode({})
    return doc
  }

  if (!isMap(doc.contents)) throw new NotAKubeconfigError(`it is a YAML ${isSeq(doc.contents) ? 'list' : 'value'}, not a mapping with apiVersion: v1 and kind: Config`)
  checkShape(doc)
  return doc
}

function checkShape(doc: Document): void {
  const scalar = (key: string) => {
    const node = doc.get(key, true)
    if (node === undefined || (isScalar(node) && node.value === null)) return undefined
    return isScalar(node) ? node.value : node
  }

  const kind = scalar('kind')
  if (kind !== undefined && kind !== 'Config') throw new NotAKubeconfigError(`it has kind: ${describe(kind)}, not kind: Config`)
  const apiVersion = scalar('apiVersion')
  if (apiVersion !== undefined && apiVersion !== 'v1') throw new NotAKubeconfigError(`it has apiVersion: ${describe(apiVersion)}; kubeconfig files are apiVersion: v1`)
  const current = scalar('current-context')
  if (current !== undefined && typeof current !== 'string') throw new NotAKubeconfigError('its current-context is not a name')
  for (const section of SECTIONS) {
    const node = doc.get(section, true)
    if (node === undefined || (isScalar(node) && node.value === null)) continue
    if (!isSeq(node)) throw new NotAKubeconfigError(`its ${section} is not a list`)
    node.items.forEach((item, i) => {
      const name = isMap(item) ? item.get('name') : undefined
      if (typeof name !== 'string' || name === '') throw new NotAKubeconfigError(`its ${section}[${i}] has no name`)
    })
  }
}

function describe(value: unknown): string {
  return value !== null && typeof value === 'object' ? 'a structure' : String(value)
}

export function emptyKubeconfig(): Document {
  return new Document({apiVersion: 'v1', kind: 'Config', preferences: {}}, {uniqueKeys: true})
}

/**
 * Put `entry` into `section` under its name: added at the end, or replacing the entry of that name
 * (and any duplicates of it). An equal entry is left untouched, comments and all, so merging the
 * same file twice changes nothing.
 */
export function upsertNamed(doc: Document, section: Section, entry: NamedEntry): 'added' | 'replaced' | 'unchanged' {
  const node = doc.get(section, true)
  if (!isSeq(node)) {
    doc.set(section, doc.createNode([entry]))
    return 'added'
  }

  const same = node.items.flatMap((item, i) => (isMap(item) && item.get('name') === entry.name ? [i] : []))
  const first = same[0]
  if (first === undefined) {
    node.items.push(doc.createNode(entry))
    return 'added'
  }

  const existing = (node.items[first] as YAMLMap).toJS(doc) as unknown
  if (same.length === 1 && stableJson(existing) === stableJson(entry)) return 'unchanged'
  node.items[first] = doc.createNode(entry)
  for (const i of same.slice(1).reverse()) node.items.splice(i, 1)
  return 'replaced'
}

/** The file's current context, or undefined when it has none (missing, null or empty). */
export function currentContextOf(doc: Document): string | undefined {
  const value = doc.get('current-context')
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** JSON with sorted keys, to compare entries regardless of key order. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  )
}
