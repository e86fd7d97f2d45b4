/**
 * Faults on demand for the fake Kubernetes API: latency, injected 5xx answers (seeded, so a run is
 * repeatable), PodDisruptionBudgets that block every eviction, pods that never finish terminating,
 * and what kp health looks for: failing health checks (etcd…), node pressure, restarting and
 * crash-looping containers. Plain JSON, like the Proxmox fake's faults, so a lab supervisor can pass
 * them through.
 */
import {drawRange, type Range, seededRandom} from '../proxmox/faults.js'

/** Which requests a fault applies to; empty matches all. */
export interface RequestSelector {
  method?: string
  /** A concrete path (`/api/v1/nodes`). */
  path?: string
  /** A regular expression tested against the path. */
  pathRegex?: string
}

export interface LatencyFault extends RequestSelector {
  ms: Range
}

export interface ErrorFault extends RequestSelector {
  /** Probability 0–1 that a matching request fails. */
  rate: number
  /** 500 by default (InternalError); 503 gives ServiceUnavailable, 504 Timeout. */
  status?: number
  message?: string
}

export const PRESSURE_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure'] as const
export type PressureCondition = (typeof PRESSURE_CONDITIONS)[number]

export interface KubeFaults {
  /** `namespace/name` of PodDisruptionBudgets whose disruptionsAllowed is forced to 0. */
  blockPdbs?: string[]
  /** `namespace/name` of pods whose containers crash: waiting in CrashLoopBackOff, not ready, at least one restart. */
  crashLoopPods?: string[]
  errors?: ErrorFault[]
  /** Health checks that fail (`etcd`, `informer-sync`…): `/readyz`, `/livez`, `/healthz` answer 500 naming them, `/readyz/<check>` 500. */
  failingHealthChecks?: string[]
  latency?: LatencyFault[]
  /** Pressure conditions the kubelets report, by node: `{w1: ['MemoryPressure']}`. */
  nodePressure?: Record<string, PressureCondition[]>
  /** Restart count the kubelet reports for a pod's first container, by `namespace/name`. */
  podRestarts?: Record<string, number>
  seed?: number
  /** `namespace/name` of pods that keep their deletionTimestamp forever once deleted (a stuck finalizer). */
  stuckPods?: string[]
}

function matches(selector: RequestSelector, method: string, path: string): boolean {
  if (selector.method && selector.method.toUpperCase() !== method) return false
  if (selector.path && selector.path !== path) return false
  if (selector.pathRegex && !new RegExp(selector.pathRegex).test(path)) return false
  return true
}

const REASONS: Record<number, string> = {500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout'}

export class KubeFaultState {
  private faults: KubeFaults = {}
  private random: () => number = seededRandom(1)

  constructor(faults: KubeFaults = {}) {
    this.set(faults)
  }

  set(faults: KubeFaults): void {
    this.faults = faults
    this.random = seededRandom(faults.seed ?? 1)
  }

  get(): KubeFaults {
    return this.faults
  }

  latencyFor(method: string, path: string): number {
    const fault = this.faults.latency?.find((f) => matches(f, method, path))
    return fault ? drawRange(fault.ms, this.random) : 0
  }

  errorFor(method: string, path: string): {message: string; reason: string; status: number} | undefined {
    for (const fault of this.faults.errors ?? []) {
      if (!matches(fault, method, path)) continue
      if (this.random() < fault.rate) {
        const status = fault.status ?? 500
        const reason = REASONS[status] ?? 'InternalError'
        return {message: fault.message ?? (status === 500 ? 'Internal error occurred: injected fault' : 'the server is currently unable to handle the request'), reason, status}
      }
    }
    return undefined
  }

  pdbBlocked(namespace: string, name: string): boolean {
    return this.faults.blockPdbs?.includes(`${namespace}/${name}`) ?? false
  }

  podStuck(namespace: string, name: string): boolean {
    return this.faults.stuckPods?.includes(`${namespace}/${name}`) ?? false
  }

  healthCheckFails(check: string): boolean {
    return this.faults.failingHealthChecks?.includes(check) ?? false
  }

  pressureOf(node: string): readonly PressureCondition[] {
    return this.faults.nodePressure?.[node] ?? []
  }

  podRestarts(namespace: string, name: string): number | undefined {
    return this.faults.podRestarts?.[`${namespace}/${name}`]
  }

  crashLooping(namespace: string, name: string): boolean {
    return this.faults.crashLoopPods?.includes(`${namespace}/${name}`) ?? false
  }
}
