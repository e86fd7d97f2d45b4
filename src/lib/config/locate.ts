/** Where a key path sits in the YAML source, so every problem can say LINE:COL. */
import {isAlias, isMap, isScalar, isSeq, type Document, type Node} from 'yaml'

import type {PathSegment} from './problems.js'

/**
 * The offset of the value at `path` (or of its key, for collections, empty values and `atKey`).
 * For a path that does not exist, the offset of the deepest part that does: a missing key points
 * at its parent. Undefined when nothing along the path exists.
 */
export function locate(doc: Document, path: readonly PathSegment[], atKey = false): number | undefined {
  let node: unknown = doc.contents
  let offset: number | undefined
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(doc)
    const last = i === path.length - 1
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment))
      if (!pair) return offset
      const value = pair.value as Node | null
      const valueStart = isScalar(value) && value.value !== null && value.range ? value.range[0] : undefined
      offset = last && !atKey && valueStart !== undefined ? valueStart : (start(pair.key) ?? offset)
      node = value
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment]
      if (item === undefined) return offset
      offset = start(item) ?? offset
      node = item
    } else {
      return offset
    }
  }

  return offset
}

/** The key path at an offset (for YAML errors such as a duplicate key), as far as it can be told. */
export function pathAt(doc: Document, offset: number): PathSegment[] {
  const path: PathSegment[] = []
  let node: unknown = doc.contents
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => within(p.key, offset) || within(p.value, offset))
      if (!pair) return path
      path.push(keyText(pair.key) ?? '?')
      if (within(pair.key, offset)) return path
      node = pair.value
    } else if (isSeq(node)) {
      const index = node.items.findIndex((item) => within(item, offset))
      if (index === -1) return path
      path.push(index)
      node = node.items[index]
    } else {
      return path
    }
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value)
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined
}

function start(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0]
}

function within(node: unknown, offset: number): boolean {
  const range = (node as Node | null)?.range
  return range !== undefined && range !== null && offset >= range[0] && offset < range[2]
}
