/**
 * Waiting on Proxmox tasks. An HTTP 200 carrying a UPID only says the task started; whether it did
 * its work is the task's exit status, so every asynchronous call ends here.
 */
import {ProxmoxError, ProxmoxTaskError} from './errors.js'
import {sleep, type Transport} from './transport.js'
import type {PveTaskResult} from './types.js'

/** The first poll comes soon (config tasks take ~100 ms), later ones back off to once a second. */
const POLL_FIRST_MS = 150
const POLL_MAX_MS = 1000
const LOG_TAIL_LINES = 10

export interface UpidParts {
  /** The task's object: a VM id for qm tasks. */
  id: string
  node: string
  type: string
}

/** `UPID:{node}:{pid}:{pstart}:{starttime}:{type}:{id}:{user}:` — the user may hold `@` and `!` but no `:`. */
export function parseUpid(upid: string): UpidParts | undefined {
  const parts = upid.split(':')
  if (parts[0] !== 'UPID' || parts.length < 8) return undefined
  return {id: parts[6] ?? '', node: parts[1] ?? '', type: parts[5] ?? ''}
}

/** `OK` and `WARNINGS: n` are success: the task finished its work and logged something odd. */
export function taskSucceeded(exitstatus: string): boolean {
  return exitstatus === 'OK' || /^WARNINGS: \d+$/.test(exitstatus)
}

export interface TaskWaitOptions {
  signal?: AbortSignal
  timeoutMs: number
}

interface TaskStatus {
  exitstatus?: string
  status: string
}

/** UPIDs stay readable in log lines: `:`, `@` and `!` are allowed in a path segment. */
function taskPath(node: string, upid: string): string {
  const segment = (s: string) => s.replace(/[/?#%\s]/g, encodeURIComponent)
  return `/nodes/${segment(node)}/tasks/${segment(upid)}`
}

/** The last lines of a task's log, for the error message; never fails the caller. */
async function logTail(transport: Transport, node: string, upid: string): Promise<string[]> {
  try {
    const first = await transport.request('GET', `${taskPath(node, upid)}/log`, {limit: 1, start: 0})
    const start = Math.max(0, (first.total ?? 0) - LOG_TAIL_LINES)
    const answer = await transport.request('GET', `${taskPath(node, upid)}/log`, {limit: LOG_TAIL_LINES, start})
    return (answer.data as Array<{t?: string}>).map((line) => line.t ?? '')
  } catch {
    return []
  }
}

/** Poll until the task stops; throw ProxmoxTaskError unless it ended OK. */
export async function waitForTask(transport: Transport, node: string, upid: string, options: TaskWaitOptions): Promise<PveTaskResult> {
  const parts = parseUpid(upid)
  const deadline = Date.now() + options.timeoutMs
  let pause = POLL_FIRST_MS
  for (;;) {
    const {data} = await transport.request('GET', `${taskPath(node, upid)}/status`)
    const status = data as TaskStatus
    if (status.status === 'stopped') {
      const exitstatus = status.exitstatus ?? 'unknown'
      if (taskSucceeded(exitstatus)) return {exitstatus, upid}
      const tail = await logTail(transport, node, upid)
      throw new ProxmoxTaskError({exitstatus, logTail: tail, type: parts?.type ?? 'task', upid, vmid: parts?.id || undefined})
    }

    if (Date.now() + pause > deadline) {
      throw new ProxmoxError(`task ${parts?.type ?? upid}${parts?.id ? ` of VM ${parts.id}` : ''} still running after ${options.timeoutMs / 1000} s (${upid})`, {
        hint: 'kp stopped waiting but the task goes on: watch it under Datacenter → Tasks, then resume the run',
      })
    }

    await sleep(pause, options.signal)
    pause = Math.min(POLL_MAX_MS, Math.round(pause * 1.5))
  }
}
