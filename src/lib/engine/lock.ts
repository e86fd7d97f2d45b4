import {createHash, randomBytes} from 'node:crypto'
import {readdirSync, readFileSync, rmSync, unlinkSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'

import {FileExistsError, writeFileAtomicSync} from '../atomic-write.js'
import {LockedError, RefusedError} from '../errors.js'
import {checkClusterName} from '../paths.js'
import {isProcessAlive, readRun, unreadableAdvice} from './journal.js'

/** One mutating run per cluster. The lock file says who holds it, so a stuck lock can be reasoned about. */
export interface LockHolder {
  cluster: string
  command: string
  host: string
  /** Random, per acquisition: two attempts of one run (same run id) are still two holders. */
  nonce?: string
  pid: number
  runId: string
  startedAt: string
}

export function lockFile(stateDir: string, cluster: string): string {
  return path.join(stateDir, 'locks', `${checkClusterName(cluster)}.lock`)
}

export function readLock(stateDir: string, cluster: string): LockHolder | undefined {
  const text = readLockText(lockFile(stateDir, cluster))
  return text === undefined ? undefined : parseHolder(text, cluster)
}

/** Dead means: recorded on this host and the process is gone. On another host we cannot tell. */
export function holderIsDead(holder: LockHolder): boolean {
  return holder.host === hostname() && holder.pid > 0 && !isProcessAlive(holder.pid)
}

export function describeHolder(holder: LockHolder): string {
  return `run ${holder.runId} ("${holder.command}", pid ${holder.pid} on ${holder.host}, since ${holder.startedAt})`
}

/** The same acquisition, not merely the same run: a resume of run R must not release another resume's lock of R. */
export function sameHolder(a: LockHolder, b: LockHolder): boolean {
  return a.runId === b.runId && a.pid === b.pid && a.host === b.host && a.nonce === b.nonce
}

export interface AcquireOptions {
  /** A resume may take over the lock its own crashed run left behind. */
  takeOverFromRun?: string
}

/** How often to look again when the lock changes under us (another kp taking it over this very moment). */
const ATTEMPTS = 50

/**
 * Takes the cluster's lock, or throws LockedError naming its holder. Returns the release function,
 * which removes the lock only while it is still this acquisition's.
 *
 * Creating the lock is link(2) of a complete temporary file: of two runs starting at once exactly
 * one creates it, and nobody ever reads a half-written lock. Taking over a dead holder's lock is a
 * compare-and-swap: the taker first creates a claim named after that dead lock's content (again
 * link(2), so one taker wins), checks the lock still is that dead one, and only then renames its
 * own lock over it. A live holder's lock is never replaced, so its release (read, compare, unlink)
 * cannot remove anyone else's.
 */
export function acquireLock(stateDir: string, holder: LockHolder, options: AcquireOptions = {}): () => void {
  const mine: LockHolder = {...holder, nonce: holder.nonce ?? randomBytes(8).toString('hex')}
  const file = lockFile(stateDir, mine.cluster)
  const content = JSON.stringify(mine, null, 2) + '\n'
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      writeFileAtomicSync(file, content, {dirMode: 0o700, mode: 0o600, overwrite: false})
      return () => releaseLock(stateDir, mine)
    } catch (error) {
      if (!(error instanceof FileExistsError)) throw error
    }

    const text = readLockText(file)
    // Released between our attempt and our read: try again.
    if (text === undefined) continue
    const current = parseHolder(text, mine.cluster)
    if (!(options.takeOverFromRun && current.runId === options.takeOverFromRun && holderIsDead(current))) throw lockedError(stateDir, current)
    if (takeOver(file, text, content)) return () => releaseLock(stateDir, mine)
    // Another kp holds the claim on that dead lock: give it a moment to finish taking over.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10)
  }

  const current = readLock(stateDir, mine.cluster)
  throw new LockedError(`Cluster "${mine.cluster}" is being locked by another kp at this very moment${current ? ` (now ${describeHolder(current)})` : ''}.`, {
    hint: 'Run "kp runs list" to see which run holds it. If a kp was killed while taking the lock over, "kp runs unlock" clears it.',
  })
}

/** Replaces the dead lock whose content is `dead` with ours; false when another kp got there first. */
function takeOver(file: string, dead: string, content: string): boolean {
  const claim = claimFile(file, dead)
  try {
    writeFileAtomicSync(claim, content, {mode: 0o600, overwrite: false})
  } catch (error) {
    if (error instanceof FileExistsError) return false
    throw error
  }

  try {
    // Holding the claim, only an operator's "kp runs unlock" can still change the lock under us.
    if (readLockText(file) !== dead) return false
    // rename(2) over the dead lock: there is a lock file at every moment, never none.
    writeFileAtomicSync(file, content, {mode: 0o600})
    return true
  } finally {
    rmSync(claim, {force: true})
  }
}

/** `.<cluster>.lock.claim-<hash of the dead lock>`: one name per dead lock, so one taker per dead lock. */
function claimFile(file: string, dead: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.claim-${createHash('sha256').update(dead).digest('hex').slice(0, 16)}`)
}

/** Removes the lock only if `holder` (this very acquisition) still holds it. */
export function releaseLock(stateDir: string, holder: LockHolder): void {
  const file = lockFile(stateDir, holder.cluster)
  const text = readLockText(file)
  if (text === undefined || !sameHolder(parseHolder(text, holder.cluster), holder)) return
  try {
    unlinkSync(file)
  } catch {
    // Already gone.
  }
}

/**
 * `kp runs unlock`: removes the lock the operator was shown and confirmed, and refuses if it changed
 * meanwhile (a resume may have taken it over while they were asked). Also clears the claims a kp
 * killed while taking the lock over left behind.
 */
export function removeLock(stateDir: string, cluster: string, expected: LockHolder): void {
  const file = lockFile(stateDir, cluster)
  const current = readLock(stateDir, cluster)
  if (current && !sameHolder(current, expected)) {
    throw new RefusedError(`The lock of cluster "${cluster}" changed while you were asked: it is now held by ${describeHolder(current)}.`, {
      hint: 'Run "kp runs unlock" again to see who holds it now.',
    })
  }

  rmSync(file, {force: true})
  const dir = path.dirname(file)
  const claims = readdirSync(dir).filter((name) => name.startsWith(`.${path.basename(file)}.claim-`))
  for (const name of claims) rmSync(path.join(dir, name), {force: true})
}

function readLockText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    // Unreadable for another reason: it still locks (parseHolder makes an unknown holder of it).
    return ''
  }
}

function parseHolder(text: string, cluster: string): LockHolder {
  try {
    const holder = JSON.parse(text) as LockHolder
    if (typeof holder?.runId === 'string' && typeof holder.pid === 'number' && typeof holder.host === 'string') return holder
  } catch {
    // fall through
  }

  // An unreadable lock still locks: better refuse than run twice.
  return {cluster, command: 'unknown (the lock file is unreadable)', host: 'unknown', pid: 0, runId: 'unknown', startedAt: 'unknown'}
}

function lockedError(stateDir: string, holder: LockHolder): LockedError {
  if (holder.runId === 'unknown' && holder.host === 'unknown') {
    return new LockedError(`Cluster "${holder.cluster}" is locked, but its lock file ${lockFile(stateDir, holder.cluster)} cannot be read.`, {
      hint: 'If no kp is running against this cluster, clear it with "kp runs unlock".',
    })
  }

  // A lock whose run cannot be read cannot be resumed: say so, instead of pointing at "kp resume".
  const run = /^[\w.-]+$/.test(holder.runId) ? readRun(stateDir, holder.runId) : undefined
  if (run && 'unreadable' in run) {
    return new LockedError(`Cluster "${holder.cluster}" is locked by ${describeHolder(holder)}, whose journal cannot be read (${run.unreadable.problem}).`, {
      hint: `${holderIsDead(holder) ? '' : 'If that run is still going, wait for it. '}${unreadableAdvice(run.unreadable)}`,
      runId: holder.runId,
    })
  }

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
