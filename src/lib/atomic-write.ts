/**
 * kp's one way to write a file: whole or not at all. The content goes to a temporary file in the
 * same folder (same file system, so the rename is atomic), created with O_EXCL under a random
 * name: a link planted at a guessable name cannot redirect the write, and no reader picks the file
 * up. It is given exactly `mode` whatever the umask, flushed to disk, then renamed over the target
 * (or linked, when an existing file must be refused), and the folder is flushed so the rename
 * survives a crash. Readers see the old file or the new one, never half of one; on any failure the
 * temporary file is removed.
 *
 * Synchronous at its core on purpose: the journal must be on disk before a step acts, and the
 * signal handler writes it on its way out. The files are small; the async variant exists for a
 * hook that must run just before the rename.
 */
import {randomBytes} from 'node:crypto'
import {closeSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, rmSync, unlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {RefusedError} from './errors.js'

/** The target exists and `overwrite: false` said to keep it. A refusal (exit 4). */
export class FileExistsError extends RefusedError {}

export interface AtomicWriteOptions {
  /** Create a missing folder (and its parents) with this mode. */
  dirMode?: number
  /** With `overwrite: false`: the hint of the refusal, naming how to replace the file after all. */
  existsHint?: string
  /** False for state that is rebuilt anyway (the lab's simulators): atomic, but not flushed. */
  flush?: boolean
  mode: number
  /** False: refuse (FileExistsError) when the target exists, atomically, even if it appeared a moment ago. */
  overwrite?: boolean
}

export interface AsyncAtomicWriteOptions extends AtomicWriteOptions {
  /** Runs just before the rename (the old file is still in place): e.g. keep a copy of it. */
  beforeRename?: () => Promise<void> | void
}

export function writeFileAtomicSync(file: string, content: string | Uint8Array, options: AtomicWriteOptions): void {
  const target = path.resolve(file)
  const temp = writeTemp(target, content, options)
  commit(temp, target, options)
}

export async function writeFileAtomic(file: string, content: string | Uint8Array, options: AsyncAtomicWriteOptions): Promise<void> {
  const target = path.resolve(file)
  const temp = writeTemp(target, content, options)
  try {
    await options.beforeRename?.()
  } catch (error) {
    rmSync(temp, {force: true})
    throw error
  }

  commit(temp, target, options)
}

/** `.name.<16 random hex>.tmp` beside the target: unguessable, so nobody can plant a link there first. */
function tempNameFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(8).toString('hex')}.tmp`)
}

function writeTemp(target: string, content: string | Uint8Array, options: AtomicWriteOptions): string {
  if (options.dirMode !== undefined) mkdirSync(path.dirname(target), {mode: options.dirMode, recursive: true})
  const temp = tempNameFor(target)
  // 'wx' is O_CREAT | O_EXCL: it fails on any existing name, a symbolic link included, instead of following it.
  const fd = openSync(temp, 'wx', options.mode)
  try {
    writeFileSync(fd, content)
    fchmodSync(fd, options.mode)
    if (options.flush !== false) fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    rmSync(temp, {force: true})
    throw error
  }

  closeSync(fd)
  return temp
}

function commit(temp: string, target: string, options: AtomicWriteOptions): void {
  try {
    if (options.overwrite === false) {
      // link(2) fails when the target exists, so a file created meanwhile is never clobbered.
      linkSync(temp, target)
      unlinkSync(temp)
    } else {
      renameSync(temp, target)
    }
  } catch (error) {
    rmSync(temp, {force: true})
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(`${target} already exists; it was left as it is.`, {hint: options.existsHint})
    throw error
  }

  if (options.flush !== false) syncDir(path.dirname(target))
}

/** Best effort: not every file system lets a folder be flushed. (Exported for a streamed file's own temp + rename, etcd/receive.ts.) */
export function syncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // nothing more to do
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
