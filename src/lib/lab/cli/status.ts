/** The supervisor's status file: how `kp lab up` follows start-up and `kp lab status` finds the lab. */
import {readFileSync} from 'node:fs'

import {writeFileAtomicSync} from '../../atomic-write.js'

import {pidAlive} from '../host/lock.js'

export const PHASES = ['starting', 'network', 'image', 'packages', 'proxmox', 'kubernetes', 'ready', 'failed', 'stopping'] as const
export type Phase = (typeof PHASES)[number]

export const PHASE_TITLES: Record<Phase, string> = {
  failed: 'failed',
  image: 'node image (debootstrap on the first run: minutes)',
  kubernetes: 'Kubernetes API with the demo workloads',
  network: 'lab bridge and apt proxy',
  packages: 'Kubernetes package repositories',
  proxmox: 'Proxmox API',
  ready: 'ready',
  starting: 'starting the supervisor',
  stopping: 'stopping',
}

export interface SupervisorStatus {
  apiUrl?: string
  caPem?: string
  cluster: string
  /** Seconds each phase took. */
  durations: Partial<Record<Phase, number>>
  fingerprint?: string
  /** The lab Kubernetes API (kp lab up --cluster). */
  kubeUrl?: string
  /** Why the supervisor failed. */
  message?: string
  phase: Phase
  pid: number
  repoBaseUrl?: string
  /** Fingerprint of the repositories' signing key. */
  repoKeyFingerprint?: string
  startedAt: string
}

export function readStatus(file: string): SupervisorStatus | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SupervisorStatus
  } catch {
    return undefined
  }
}

export function writeStatus(file: string, status: SupervisorStatus): void {
  writeFileAtomicSync(file, `${JSON.stringify(status, null, 2)}\n`, {flush: false, mode: 0o644})
}

/** The status of a supervisor that still runs; undefined when none does. */
export function liveStatus(file: string): SupervisorStatus | undefined {
  const status = readStatus(file)
  return status && status.phase !== 'failed' && pidAlive(status.pid) ? status : undefined
}
