/**
 * Replace a file whole or not at all: a temporary file in the same folder (same file system, and a
 * name no reader picks up), flushed to disk, given exactly `mode` whatever the umask, then renamed
 * over the target; the folder is flushed too, so the rename survives a crash. Readers see the old
 * file or the new one, never a half-written one.
 */
import {randomBytes} from 'node:crypto'
import {chmod, mkdir, open, rename, rm} from 'node:fs/promises'
import path from 'node:path'

export interface AtomicWriteOptions {
  /** Create a missing folder with this mode. */
  dirMode?: number
  mode: number
  /** Runs just before the rename (the old file is still in place): e.g. keep a copy of it. */
  beforeRename?: () => Promise<void> | void
}

export async function writeFileAtomic(file: string, content: string, options: AtomicWriteOptions): Promise<void> {
  const target = path.resolve(file)
  const dir = path.dirname(target)
  if (options.dirMode !== undefined) await mkdir(dir, {mode: options.dirMode, recursive: true})
  const temp = path.join(dir, `.${path.basename(target)}.kp-${process.pid}-${randomBytes(4).toString('hex')}.tmp`)
  try {
    const handle = await open(temp, 'wx', options.mode)
    try {
      await handle.writeFile(content, 'utf8')
      await handle.sync()
    } finally {
      await handle.close()
    }

    await chmod(temp, options.mode)
    await options.beforeRename?.()
    await rename(temp, target)
  } catch (error) {
    await rm(temp, {force: true})
    throw error
  }

  // Best effort: not every file system lets a folder be flushed.
  const folder = await open(dir, 'r').catch(() => undefined)
  await folder?.sync().catch(() => {})
  await folder?.close()
}
