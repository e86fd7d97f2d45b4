/**
 * Splitting and parsing a kubeadm configuration file the way kubeadm does. kubeadm does not hand
 * the file to a YAML parser: apimachinery's YAMLReader cuts it at every line that starts with
 * `---`, and each piece is then converted from YAML (go-yaml v2, so YAML 1.1 booleans like `yes`)
 * to JSON on its own. That is why a comment block before the first `---` is a document of its own
 * and fails with "kind and apiVersion is mandatory". Values keep their line numbers so problems can
 * point at the file.
 */
import {isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Tags} from 'yaml'

import {badSeparator, yamlSyntax} from './messages.js'

export type Value =
  | {items: Value[]; line: number; t: 'array'}
  | {entries: Entry[]; line: number; t: 'object'}
  | {line: number; src: string; t: 'number'; v: number}
  | {line: number; t: 'bool'; v: boolean}
  | {line: number; t: 'null'}
  | {line: number; t: 'string'; v: string}

export interface Entry {
  key: string
  /** Line of the key, 1-based within the whole file. */
  line: number
  value: Value
}

export interface Chunk {
  /** 1-based line of the chunk's first line in the whole file. */
  firstLine: number
  text: string
}

export interface ParsedChunk extends Chunk {
  /** Keys repeated in one mapping; go-yaml's strict mode names them by line within the chunk. */
  duplicates: {key: string; line: number}[]
  /** kubeadm's message for a chunk that is not YAML, and its line in the whole file. */
  syntaxError?: {line: number; message: string}
  value?: Value
}

/** apimachinery's YAMLReader: a line beginning with `---` ends a document; only a comment may follow it. */
export function splitDocuments(text: string): {chunks: Chunk[]; error?: {line: number; message: string}} {
  const chunks: Chunk[] = []
  let buffer = ''
  let firstLine = 1
  const lines = text.split(/(?<=\n)/)
  for (const [index, line] of lines.entries()) {
    if (line.startsWith('---')) {
      const rest = line.slice(3).trim()
      if (rest !== '' && !rest.startsWith('#')) return {chunks, error: {line: index + 1, message: badSeparator(rest)}}
      if (buffer !== '') chunks.push({firstLine, text: buffer})
      buffer = ''
      continue
    }

    if (buffer === '') firstLine = index + 1
    buffer += line
  }

  if (buffer !== '') chunks.push({firstLine, text: buffer})
  return {chunks}
}

// go-yaml v2 has YAML 1.1's booleans and octal ints but neither sexagesimal numbers nor timestamps
// (it leaves those as strings when decoding into interface{}, which is what YAMLToJSON does).
const goYamlTags = (tags: Tags): Tags =>
  tags.filter((tag) => !(typeof tag === 'object' && (tag.format === 'TIME' || tag.tag === 'tag:yaml.org,2002:timestamp')))

export function parseChunk(chunk: Chunk): ParsedChunk {
  const lineCounter = new LineCounter()
  const doc = parseDocument(chunk.text, {customTags: goYamlTags, lineCounter, prettyErrors: false, uniqueKeys: false, version: '1.1'})
  const relLine = (offset: number | undefined) => lineCounter.linePos(offset ?? 0).line
  const absLine = (offset: number | undefined) => chunk.firstLine + relLine(offset) - 1
  const [firstError] = doc.errors
  if (firstError) {
    const line = relLine(firstError.pos[0])
    return {...chunk, duplicates: [], syntaxError: {line: chunk.firstLine + line - 1, message: yamlSyntax(line, firstError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''))}}
  }

  const duplicates: ParsedChunk['duplicates'] = []
  const convert = (node: unknown): Value => {
    if (isAlias(node)) return convert(node.resolve(doc))
    const line = absLine(isScalar(node) || isMap(node) || isSeq(node) ? node.range?.[0] : undefined)
    if (isMap(node)) {
      const entries: Entry[] = []
      for (const pair of node.items) {
        const keyNode: unknown = pair.key
        const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode)
        const keyLine = isScalar(keyNode) ? keyNode.range?.[0] : undefined
        const value = convert(pair.value)
        const previous = entries.findIndex((e) => e.key === key)
        if (previous === -1) {
          entries.push({key, line: absLine(keyLine), value})
        } else {
          duplicates.push({key, line: relLine(keyLine)})
          entries[previous] = {key, line: absLine(keyLine), value}
        }
      }

      return {entries, line, t: 'object'}
    }

    if (isSeq(node)) return {items: node.items.map((item) => convert(item)), line, t: 'array'}
    if (!isScalar(node)) return {line, t: 'null'}
    const {value} = node
    if (value === null || value === undefined) return {line, t: 'null'}
    if (typeof value === 'boolean') return {line, t: 'bool', v: value}
    if (typeof value === 'number' || typeof value === 'bigint') return {line, src: node.source ?? String(value), t: 'number', v: Number(value)}
    // Anything else a YAML 1.1 tag made (binary, a set) stays as written, as go-yaml keeps it.
    return {line, t: 'string', v: typeof value === 'string' ? value : (node.source ?? '')}
  }

  return {...chunk, duplicates, value: convert(doc.contents)}
}

/** JSON's name for a value's type, as encoding/json prints it in type errors (the tags agree). */
export function jsonKind(value: Value): string {
  return value.t
}

/** The plain data a Value stands for, as JSON would carry it. */
export function toPlain(value: Value): unknown {
  switch (value.t) {
    case 'array': {
      return value.items.map((item) => toPlain(item))
    }

    case 'object': {
      return Object.fromEntries(value.entries.map((e) => [e.key, toPlain(e.value)]))
    }

    case 'null': {
      return null
    }

    default: {
      return value.v
    }
  }
}

export function entry(value: Value | undefined, key: string): Value | undefined {
  return value?.t === 'object' ? value.entries.find((e) => e.key === key)?.value : undefined
}
