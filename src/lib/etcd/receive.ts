/**
 * A file streamed off a node, written the way atomic-write.ts writes: into a hidden temp file in
 * the same folder (`.<name>.part`, O_EXCL, exactly mode 0600), flushed, checked, then renamed into
 * place and the folder flushed. Its SHA-256 is computed over the bytes as they arrive and must
 * equal the node's, and the whole file must pass `check` (a sound snapshot). On any failure (a
 * cut stream, a full disk, a wrong hash) the temp file is removed, so the folder never holds part
 * of a file. kill -9 mid-copy leaves the `.part`, which the next copy removes first (backups.ts
 * `leftovers`).
 */
import {createHash} from 'node:crypto'
import {closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, writeSync} from 'node:fs'
import path from 'node:path'

import {syncDir} from '../atomic-write.js'
import {partName} from './backups.js'

export interface Expected {
  sha256: string
  size: number
}

export class ReceiveError extends Error {}

/**
 * `feed(sink)` calls sink with each chunk in order and resolves when the stream ended. `check`
 * looks at the complete temp file before it is renamed: what it returns (problems) fails the copy.
 */
export async function receiveFile(
  target: string,
  expected: Expected,
  feed: (sink: (chunk: Buffer) => void) => Promise<void>,
  check?: (file: string) => Promise<string[]>,
): Promise<void> {
  const part = path.join(path.dirname(target), partName(path.basename(target)))
  rmSync(part, {force: true})
  const fd = openSync(part, 'wx', 0o600)
  const hash = createHash('sha256')
  let size = 0
  let closed = false
  try {
    // Exactly 0600 whatever the umask: it holds every Secret of the cluster.
    fchmodSync(fd, 0o600)
    await feed((chunk) => {
      // Synchronous on purpose: the stream waits for the disk, and a full disk throws into feed.
      for (let done = 0; done < chunk.length; ) done += writeSync(fd, chunk, done)
      hash.update(chunk)
      size += chunk.length
    })
    fsyncSync(fd)
    closeSync(fd)
    closed = true
    const sha256 = hash.digest('hex')
    if (size !== expected.size || sha256 !== expected.sha256) {
      throw new ReceiveError(`the copy has ${size} bytes with SHA-256 ${sha256}; the node's file has ${expected.size} bytes with SHA-256 ${expected.sha256}`)
    }

    const problems = (await check?.(part)) ?? []
    if (problems.length > 0) throw new ReceiveError(`the copy arrived whole, but it is not a sound etcd snapshot: ${problems.join('; ')}`)
    renameSync(part, target)
    syncDir(path.dirname(target))
  } catch (error) {
    if (!closed) closeSync(fd)
    rmSync(part, {force: true})
    throw error
  }
}
