import {closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {LockedError} from '../errors.js'
import {isProcessAlive, writeFileAtomic} from './journal.js'

/** One mutating run per cluster. The lock file says who holds it, so a stuck lock can be reasoned about. */
export interface LockHolder {
  cluster: string
  command: string
  host: string
  pid: number
  runId: string
  startedAt: string
}

export function lockFile(stateDir: string, cluster: string): string {
  return path.join(stateDir, 'locks', `${cluster}.lock`)
}

export function readLock(stateDir: string, cluster: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(lockFile(stateDir, cluster), 'utf8')) as LockHolder
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // An unreadable lock still locks: better refuse than run twice.
    return {cluster, command: 'unknown (the lock file is unreadable)', host: 'unknown', pid: 0, runId: 'unknown', startedAt: 'unknown'}
  }
}

/** Dead means: recorded on this host and the process is gone. On another host we cannot tell. */
export function holderIsDead(holder: LockHolder): boolean {
  return holder.host === hostname() && holder.pid > 0 && !isProcessAlive(holder.pid)
}

export function describeHolder(holder: LockHolder): string {
  return `run ${holder.runId} ("${holder.command}", pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`
}

export interface AcquireOptions {
  /** A resume may take over the lock its own crashed run left behind. */
  takeOverFromRun?: string
}

export function acquireLock(stateDir: string, holder: LockHolder, options: AcquireOptions = {}): () => void {
  const file = lockFile(stateDir, holder.cluster)
  mkdirSync(path.dirname(file), {mode: 0o700, recursive: true})
  const content = JSON.stringify(holder, null, 2) + '\n'
  try {
    // O_EXCL: of two runs starting at the same moment, exactly one creates the file.
    const fd = openSync(file, 'wx', 0o600)
    try {
      writeSync(fd, content)
    } finally {
      closeSync(fd)
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const current = readLock(stateDir, holder.cluster)
    if (current && options.takeOverFromRun && current.runId === options.takeOverFromRun && holderIsDead(current)) {
      writeFileAtomic(file, content)
    } else if (current) {
      throw lockedError(current)
    } else {
      // Released between our attempt and our read: try once more.
      return acquireLock(stateDir, holder, options)
    }
  }

  return () => releaseLock(stateDir, holder)
}

export function releaseLock(stateDir: string, holder: LockHolder): void {
  const current = readLock(stateDir, holder.cluster)
  if (current?.runId !== holder.runId) return
  try {
    unlinkSync(lockFile(stateDir, holder.cluster))
  } catch {
    // Already gone.
  }
}

export function removeLock(stateDir: string, cluster: string): void {
  unlinkSync(lockFile(stateDir, cluster))
}

function lockedError(holder: LockHolder): LockedError {
  if (holderIsDead(holder)) {
    return new LockedError(`Cluster "${holder.cluster}" is locked by ${describeHolder(holder)}, which is no longer running.`, {
      hint: `If that run should be finished, "kp resume ${holder.runId}" takes the lock over. Otherwise clear it with "kp runs unlock".`,
      runId: holder.runId,
    })
  }

  return new LockedError(`Cluster "${holder.cluster}" is locked by ${describeHolder(holder)}.`, {
    hint: 'Wait for that run to finish. If you are sure it is gone, "kp runs unlock" clears the lock.',
    runId: holder.runId,
  })
}
