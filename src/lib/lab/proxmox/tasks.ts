/**
 * Worker tasks as PVE::RPCEnvironment::fork_worker runs them: the HTTP call returns a UPID at once,
 * the work finishes later, the task log collects what the worker prints and ends with `TASK OK` or
 * `TASK ERROR: <message>`, and the exit status is `OK` or the error text.
 */
import {setTimeout as sleep} from 'node:timers/promises'

import {messageOf} from './api-error.js'
import {drawRange, type FaultState, type Range} from './faults.js'
import type {StateStore, TaskRecord} from './state.js'

/** How long each kind of task works, in ms; clones take longest. */
export const DEFAULT_TASK_DURATIONS: Readonly<Record<string, Range>> = {
  qmclone: [200, 500],
  qmconfig: [10, 40],
  qmdelsnapshot: [50, 150],
  qmdestroy: [50, 120],
  qmreboot: [80, 160],
  qmrollback: [80, 200],
  qmshutdown: [60, 150],
  qmsnapshot: [60, 150],
  qmstart: [80, 200],
  qmstop: [30, 80],
  qmtemplate: [50, 100],
  resize: [30, 80],
}

const DEFAULT_DURATION: Range = [20, 80]

/** The UPID regular expression of PVE::Tools::upid_decode. */
export const UPID_RE =
  /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/

export interface DecodedUpid {
  id: string
  node: string
  pid: number
  pstart: number
  starttime: number
  type: string
  user: string
}

export function decodeUpid(upid: string): DecodedUpid | undefined {
  const m = UPID_RE.exec(upid)
  if (!m) return undefined
  return {
    id: m[7] ?? '',
    node: m[1] ?? '',
    pid: Number.parseInt(m[3] ?? '0', 16),
    pstart: Number.parseInt(m[4] ?? '0', 16),
    starttime: Number.parseInt(m[5] ?? '0', 16),
    type: m[6] ?? '',
    user: m[8] ?? '',
  }
}

const hex = (value: number) => value.toString(16).toUpperCase().padStart(8, '0')

export class TaskAbortedError extends Error {
  constructor() {
    super('interrupted by signal')
    this.name = 'TaskAbortedError'
  }
}

export interface TaskContext {
  /** Append to the last log line (lock_file_full prints "trying to acquire lock..." then " OK"). */
  append(text: string): void
  log(line: string): void
  readonly signal: AbortSignal
  /**
   * Do the task's work: wait its configured duration. Where an armed task-failure fault makes it fail,
   * and where a simulated crash stops it.
   */
  spend(): Promise<void>
  readonly upid: string
}

export type TaskWorker = (ctx: TaskContext) => Promise<void>

export interface StartTask {
  /** The UPID's id field: the VM id for qm tasks. */
  id: string
  node: string
  type: string
  user: string
  /** VMs the task concerns, for matching task-failure faults. */
  vmids: number[]
  worker: TaskWorker
}

export interface TaskOptions {
  durations: Readonly<Record<string, Range>>
  random: () => number
}

export class TaskManager {
  private readonly abort = new AbortController()
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly store: StateStore,
    private readonly faults: FaultState,
    private readonly options: TaskOptions,
  ) {}

  start(request: StartTask): string {
    const state = this.store.state
    const now = Date.now()
    const pid = state.nextPid++
    const pstart = Math.floor((now - state.bootTime) / 10)
    const starttime = Math.floor(now / 1000)
    const upid = `UPID:${request.node}:${hex(pid)}:${hex(pstart)}:${hex(starttime)}:${request.type}:${request.id}:${request.user}:`
    const task: TaskRecord = {
      id: request.id,
      log: [],
      node: request.node,
      pid,
      pstart,
      starttime,
      status: 'running',
      type: request.type,
      upid,
      user: request.user,
    }
    this.store.addTask(task)
    const failure = this.faults.takeTaskFailure(request.type, request.vmids)
    const duration = drawRange(this.options.durations[request.type] ?? DEFAULT_DURATION, this.options.random)
    const signal = this.abort.signal
    let spent = false
    const ctx: TaskContext = {
      append: (text) => {
        if (task.log.length === 0) task.log.push('')
        task.log[task.log.length - 1] += text
        this.store.save()
      },
      log: (line) => {
        task.log.push(...line.split('\n'))
        this.store.save()
      },
      signal,
      spend: async () => {
        spent = true
        try {
          await sleep(duration, undefined, {signal})
        } catch {
          throw new TaskAbortedError()
        }
        if (failure !== undefined) throw new Error(failure)
      },
      upid,
    }
    const run = (async () => {
      // Let the HTTP answer with the UPID go out before the worker starts, as with a forked worker.
      await sleep(1)
      try {
        await request.worker(ctx)
        if (!spent) await ctx.spend()
        this.finish(task, 'OK')
      } catch (error) {
        if (error instanceof TaskAbortedError || signal.aborted) return
        this.finish(task, messageOf(error))
      }
    })()
    this.inFlight.add(run)
    void run.finally(() => this.inFlight.delete(run))
    return upid
  }

  private finish(task: TaskRecord, exitstatus: string): void {
    task.log.push(exitstatus === 'OK' ? 'TASK OK' : `TASK ERROR: ${exitstatus}`)
    task.status = 'stopped'
    task.exitstatus = exitstatus
    task.endtime = Math.floor(Date.now() / 1000)
    this.store.save()
  }

  running(): TaskRecord[] {
    return this.store.state.tasks.filter((t) => t.status === 'running')
  }

  /** Resolves when no task is working. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight])
  }

  /** A crash: every worker stops where it is, without cleaning up. */
  abortAll(): void {
    this.abort.abort()
  }
}
