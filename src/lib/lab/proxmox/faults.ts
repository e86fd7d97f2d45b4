/**
 * Faults on demand for the simulated API: latency, injected 5xx answers (seeded, so a run is
 * repeatable) before or after the request is carried out, Proxmox's lock timeouts, tasks that fail, a
 * guest agent that does not answer, and lock contention between clones of one template. Plain JSON so
 * a lab supervisor can pass them through.
 */
import {STATUS_CODES} from 'node:http'

/** Milliseconds: fixed, or a [min, max] range drawn from the seeded generator. */
export type Range = number | readonly [number, number]

/** Which requests a fault applies to; empty matches all. */
export interface RouteSelector {
  method?: string
  /** A schema template (`/nodes/{node}/qemu/{vmid}/clone`) or a concrete path (`/version`), without /api2/json. */
  path?: string
  /** A regular expression tested against the concrete path. */
  pathRegex?: string
}

export interface LatencyFault extends RouteSelector {
  ms: Range
}

export interface ErrorFault extends RouteSelector {
  /** Probability 0–1 that a matching request fails. */
  rate: number
  /** 500 by default; 503 is the other usual one. */
  status?: number
  /** Reason phrase; the standard one for the status by default (`Internal Server Error`). */
  message?: string
  /**
   * The request is carried out and only its answer is replaced by the error — a gateway that lost the
   * answer. By default the request fails before anything is done.
   */
  after?: boolean
  /**
   * Proxmox's own lock contention instead: 500 `can't lock file '/var/lock/qemu-server/lock-<vmid>.conf' -
   * got timeout` on calls about a VM (other calls are not affected). Nothing is done, as with the real lock.
   */
  lockContention?: boolean
}

/** An injected failure: the status line, and whether the request is carried out first. */
export interface InjectedError {
  after: boolean
  message: string
  status: number
}

export interface TaskFailure {
  /** Task type as in the UPID (`qmclone`, `qmstart`, `qmsnapshot`…); any when absent. */
  type?: string
  /** The task's VM (for a clone, the source or the new id); any when absent. */
  vmid?: number
  /** The task's exit status, written as `TASK ERROR: <message>` at the end of its log. */
  message: string
  /** How many matching tasks fail; 1 by default. */
  times?: number
}

export interface CloneLockFault {
  /**
   * `exclusive` (default): a clone holds its source's lock for the whole copy, so clones of one
   * template run one at a time and a clone that waits longer than `timeoutMs` fails with
   * `can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout` — the failure tools that
   * clone in parallel report. `shared`: what qemu-server 8.3's code does for a stopped template.
   */
  mode: 'exclusive' | 'shared'
  /** How long a clone waits for a lock; qemu-server uses 1 s. */
  timeoutMs?: number
}

export interface Faults {
  /** VMs whose guest agent does not answer (`QEMU guest agent is not running`). */
  agentDown?: number[]
  cloneLock?: CloneLockFault
  errors?: ErrorFault[]
  failTasks?: TaskFailure[]
  latency?: LatencyFault[]
  /** Seed for the error and latency draws; the same seed gives the same sequence. */
  seed?: number
}

export const DEFAULT_CLONE_LOCK: Required<CloneLockFault> = {mode: 'exclusive', timeoutMs: 1000}

/** A small, fast, seedable generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function drawRange(range: Range, random: () => number): number {
  if (typeof range === 'number') return range
  const [min, max] = range
  return Math.round(min + (max - min) * random())
}

function matches(selector: RouteSelector, method: string, path: string, template: string | undefined): boolean {
  if (selector.method && selector.method.toUpperCase() !== method) return false
  if (selector.path && selector.path !== path && selector.path !== template) return false
  if (selector.pathRegex && !new RegExp(selector.pathRegex).test(path)) return false
  return true
}

export class FaultState {
  private faults: Faults = {}
  private random: () => number = seededRandom(1)
  private readonly taskFailuresLeft = new Map<TaskFailure, number>()

  constructor(faults: Faults = {}) {
    this.set(faults)
  }

  /** Replace all faults; re-seeds the generator. */
  set(faults: Faults): void {
    this.faults = faults
    this.random = seededRandom(faults.seed ?? 1)
    this.taskFailuresLeft.clear()
    for (const failure of faults.failTasks ?? []) this.taskFailuresLeft.set(failure, failure.times ?? 1)
  }

  get(): Faults {
    return this.faults
  }

  latencyFor(method: string, path: string, template: string | undefined): number {
    const fault = this.faults.latency?.find((f) => matches(f, method, path, template))
    return fault ? drawRange(fault.ms, this.random) : 0
  }

  errorFor(method: string, path: string, template: string | undefined): InjectedError | undefined {
    for (const fault of this.faults.errors ?? []) {
      if (!matches(fault, method, path, template)) continue
      const vmid = /\/qemu\/(\d+)(?:\/|$)/.exec(path)?.[1]
      if (fault.lockContention && vmid === undefined) continue
      if (this.random() < fault.rate) {
        if (fault.lockContention) return {after: false, message: `can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`, status: 500}
        const status = fault.status ?? 500
        return {after: fault.after ?? false, message: fault.message ?? STATUS_CODES[status] ?? 'Error', status}
      }
    }
    return undefined
  }

  /** The error a task of this type on these VMs must end with, if a failure fault is armed for it. */
  takeTaskFailure(type: string, vmids: readonly number[]): string | undefined {
    for (const [failure, left] of this.taskFailuresLeft) {
      if (left <= 0) continue
      if (failure.type && failure.type !== type) continue
      if (failure.vmid !== undefined && !vmids.includes(failure.vmid)) continue
      this.taskFailuresLeft.set(failure, left - 1)
      return failure.message
    }
    return undefined
  }

  agentDown(vmid: number): boolean {
    return this.faults.agentDown?.includes(vmid) ?? false
  }

  cloneLock(): Required<CloneLockFault> {
    return {...DEFAULT_CLONE_LOCK, ...this.faults.cloneLock}
  }
}
