/**
 * The laptop's own check of an etcd v3 snapshot, without etcdctl. A snapshot is a bbolt database
 * followed by 32 bytes: the SHA-256 of everything before them (etcd's maintenance Snapshot stream
 * appends it, and `etcdctl snapshot restore` checks it when size % 512 == 32). The database starts
 * with two meta pages, each with bolt's magic, version 2, the page size and an FNV-1a-64 checksum
 * of the meta. So: the trailer hash over the whole database, both meta pages, and the SHA-256 of
 * the whole file (what the sidecar records) — one read of the file.
 */
import {createHash} from 'node:crypto'
import {open} from 'node:fs/promises'

const BOLT_MAGIC = 0xed_0c_da_ed
const BOLT_VERSION = 2
const PAGE_HEADER = 16
/** magic, version, pageSize, flags (4 bytes each), root bucket (16), freelist, pgid, txid (8 each): then the checksum. */
const META_CHECKED = 56
const META_PAGE_FLAG = 0x04
export const TRAILER = 32

export interface SnapshotFileCheck {
  /** SHA-256 of the whole file, hex. */
  sha256: string
  size: number
  /** Empty when the file is a sound snapshot. */
  problems: string[]
}

function fnv1a64(bytes: Uint8Array): bigint {
  let hash = 0xcb_f2_9c_e4_84_22_23_25n
  for (const byte of bytes) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x1_00_00_00_01_b3n)
  return hash
}

/** What is wrong with the meta page at `offset` (undefined when it is sound), and the page size it names. */
function metaProblem(head: Buffer, offset: number, which: string): {pageSize?: number; problem?: string} {
  if (head.length < offset + PAGE_HEADER + META_CHECKED + 8) return {problem: `too short for bolt's ${which} meta page`}
  const flags = head.readUInt16LE(offset + 8)
  const meta = head.subarray(offset + PAGE_HEADER, offset + PAGE_HEADER + META_CHECKED + 8)
  if (!(flags & META_PAGE_FLAG)) return {problem: `the ${which} page is not a bolt meta page (flags ${flags})`}
  if (meta.readUInt32LE(0) !== BOLT_MAGIC) return {problem: `the ${which} meta page has no bolt magic (0x${meta.readUInt32LE(0).toString(16)}): not a bolt database`}
  if (meta.readUInt32LE(4) !== BOLT_VERSION) return {problem: `the ${which} meta page says bolt version ${meta.readUInt32LE(4)}, not ${BOLT_VERSION}`}
  if (meta.readBigUInt64LE(META_CHECKED) !== fnv1a64(meta.subarray(0, META_CHECKED))) return {problem: `the ${which} meta page's checksum does not match its bytes`}
  return {pageSize: meta.readUInt32LE(8)}
}

/** Read the file once: its SHA-256, the trailer hash, and bolt's two meta pages. */
export async function checkSnapshotFile(file: string, signal?: AbortSignal): Promise<SnapshotFileCheck> {
  const handle = await open(file, 'r')
  try {
    const {size} = await handle.stat()
    const whole = createHash('sha256')
    const body = createHash('sha256')
    const bodySize = size - TRAILER
    const trailer = Buffer.alloc(TRAILER)
    let head = Buffer.alloc(0)
    let position = 0
    const chunk = Buffer.alloc(1 << 20)
    for (;;) {
      signal?.throwIfAborted()
      const {bytesRead} = await handle.read(chunk, 0, chunk.length, position)
      if (bytesRead === 0) break
      const bytes = chunk.subarray(0, bytesRead)
      whole.update(bytes)
      // Bolt's pages are at most 64 KiB here; the second meta page starts one page in.
      if (head.length < 1 << 17) head = Buffer.concat([head, bytes.subarray(0, (1 << 17) - head.length)])
      const inBody = Math.max(0, Math.min(bytesRead, bodySize - position))
      if (inBody > 0) body.update(bytes.subarray(0, inBody))
      for (let i = inBody; i < bytesRead; i++) trailer[position + i - bodySize] = bytes[i]!
      position += bytesRead
    }

    const problems: string[] = []
    if (size % 512 !== TRAILER) {
      problems.push(`its size (${size} bytes) is not a bolt database plus etcd's 32-byte hash (size % 512 is ${size % 512}, not 32): cut short, or not a snapshot from etcd`)
    } else if (!body.digest().equals(trailer)) {
      problems.push("its bytes do not match the SHA-256 etcd appended to the snapshot: it changed after etcd wrote it")
    }

    const first = metaProblem(head, 0, 'first')
    if (first.problem) problems.push(first.problem)
    const pageSize = first.pageSize ?? 4096
    const second = metaProblem(head, pageSize, 'second')
    if (second.problem) problems.push(second.problem)
    return {problems, sha256: whole.digest('hex'), size}
  } finally {
    await handle.close()
  }
}
