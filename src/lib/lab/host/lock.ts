/**
 * Two inter-process locks: one around building a cached artefact (so two test workers never both
 * debootstrap the same image), and the machine-wide lab lock (the lab's names — kplab0, kplab-<vmid>
 * — are global, so one lab owns the machine's lab network at a time).
 */
import {mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

import {UsageError} from '../../errors.js'
import {LAB_LOCK_FILE, statePaths} from './options.js'

export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Runs fn holding an exclusive lock file; a lock whose holder died is taken over. */
export async function withFileLock<T>(file: string, timeoutMs: number, what: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(path.dirname(file), {recursive: true})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, {flag: 'wx'})
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const holder = readPid(file)
      if (holder === undefined || !pidAlive(holder)) {
        rmSync(file, {force: true})
        continue
      }

      if (Date.now() > deadline) throw new UsageError(`${what}: still locked by process ${holder} (${file})`)
      await sleep(500)
    }
  }

  try {
    return await fn()
  } finally {
    rmSync(file, {force: true})
  }
}

interface LabLock {
  pid: number
  stateDir: string
}

function readLabLock(): LabLock | undefined {
  try {
    return JSON.parse(readFileSync(LAB_LOCK_FILE, 'utf8')) as LabLock
  } catch {
    return undefined
  }
}

/** Whether a lab (its creating process, a VM or its apt proxy) still runs from a state dir. */
export function labAlive(lock: LabLock): boolean {
  if (pidAlive(lock.pid)) return true
  const paths = statePaths(lock.stateDir)
  const pidFiles = [path.join(paths.aptProxy, 'pid')]
  try {
    for (const vmid of readdirSync(paths.vms)) pidFiles.push(path.join(paths.vms, vmid, 'supervisor.pid'))
  } catch {
    // no VMs
  }

  return pidFiles.some((f) => {
    const pid = readPid(f)
    return pid !== undefined && pidAlive(pid)
  })
}

/**
 * Claims the machine's lab network for a state dir. Re-entrant for the same state dir (a later
 * `kp lab down` from another process); waits up to timeoutMs for another live lab to go.
 */
export async function acquireLabLock(stateDir: string, timeoutMs: number): Promise<void> {
  mkdirSync(path.dirname(LAB_LOCK_FILE), {recursive: true})
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const mine: LabLock = {pid: process.pid, stateDir}
    try {
      writeFileSync(LAB_LOCK_FILE, JSON.stringify(mine), {flag: 'wx'})
      return
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }

    const holder = readLabLock()
    if (holder?.stateDir === stateDir) {
      if (holder.pid !== process.pid && !pidAlive(holder.pid)) writeFileSync(LAB_LOCK_FILE, JSON.stringify(mine))
      return
    }

    if (!holder || !labAlive(holder)) {
      rmSync(LAB_LOCK_FILE, {force: true})
      continue
    }

    if (Date.now() > deadline) {
      throw new UsageError(`another kp lab is running on this machine (state dir ${holder.stateDir}, process ${holder.pid})`, {
        hint: `stop it first with kp lab down (its state dir is ${holder.stateDir})`,
      })
    }

    await sleep(1000)
  }
}

export function releaseLabLock(stateDir: string): void {
  if (readLabLock()?.stateDir === stateDir) rmSync(LAB_LOCK_FILE, {force: true})
}

/** Refuses to act on the lab network while another live lab (another state dir) owns it. */
export function assertNoOtherLab(stateDir: string): void {
  const holder = readLabLock()
  if (holder && holder.stateDir !== stateDir && labAlive(holder)) {
    throw new UsageError(`another kp lab owns this machine's lab network (state dir ${holder.stateDir}, process ${holder.pid})`, {
      hint: `tear that lab down with its own state dir (${holder.stateDir})`,
    })
  }
}
