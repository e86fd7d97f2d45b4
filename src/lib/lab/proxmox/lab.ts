/**
 * What every handler shares: the state, the tasks, the flocks, the faults and the backend, plus the
 * helpers that reproduce qemu-server's checks (`load_config`, `check_lock`, `lock_config`).
 */
import type {VmBackend} from '../backend.js'
import {fail} from './api-error.js'
import {cloudInitValues, vmSpecOf} from './cloud-init.js'
import type {FaultState} from './faults.js'
import {type FileLocks, LockTimeoutError, vmLockFile} from './locks.js'
import type {Acl} from './permissions.js'
import type {StateStore, VmRecord} from './state.js'
import type {TaskContext, TaskManager} from './tasks.js'
import {applyPending, effectiveConfig} from './vm-config.js'

export interface StorageSpec {
  /** `lvmthin` like local-lvm by default. */
  content?: string
  id: string
  shared?: boolean
  /** Bytes; 100 GiB by default. */
  total?: number
  type?: string
}

export interface Lab {
  backend: VmBackend
  defaultCiUser: string
  faults: FaultState
  /** SHA-256 of the node certificate, for `GET /nodes`. */
  fingerprint: string
  locks: FileLocks
  nodes: readonly string[]
  pools: readonly string[]
  storages: readonly StorageSpec[]
  store: StateStore
  tasks: TaskManager
  /** How long lock_config waits for a VM's flock (qemu-server: 10 s). */
  lockWaitMs: number
}

export interface Request {
  acl: Acl
  lab: Lab
  /** Validated parameters, path parameters included. */
  params: Record<string, string>
  /** The token id, `user@realm!token`: the user field of the UPIDs this request starts. */
  user: string
}

export type Handler = (request: Request) => unknown

export function vmidOf(params: Record<string, string>, name = 'vmid'): number {
  return Number(params[name])
}

/** PVE::QemuConfig->load_config on the node the request went to. */
export function loadVm(lab: Lab, node: string, vmid: number): VmRecord {
  const vm = lab.store.vm(vmid)
  if (!vm || vm.node !== node) fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`)
  return vm
}

/** PVE::AbstractConfig::check_lock. */
export function checkLock(vm: VmRecord): void {
  const lock = vm.config.lock
  if (lock !== undefined) fail(`VM is locked (${lock})`)
}

/**
 * PVE::AbstractConfig::lock_config: hold the VM's flock while `fn` runs. A task context gets the
 * "trying to acquire lock..." line lock_file_full prints when it has to wait.
 */
export async function lockConfig<T>(
  lab: Lab,
  vmid: number,
  fn: () => T | Promise<T>,
  options: {ctx?: TaskContext; mode?: 'exclusive' | 'shared'; timeoutMs?: number} = {},
): Promise<T> {
  let waited = false
  const release = await lab.locks.acquire(vmLockFile(vmid), options.mode ?? 'exclusive', options.timeoutMs ?? lab.lockWaitMs, () => {
    waited = true
    options.ctx?.log('trying to acquire lock...')
  })
  if (waited) options.ctx?.append(' OK')
  try {
    return await fn()
  } finally {
    release()
  }
}

export {LockTimeoutError}

/** Is the VM running? The backend knows best (a guest can power itself off). */
export async function syncRunning(lab: Lab, vm: VmRecord): Promise<boolean> {
  if (!vm.running) return false
  if (await lab.backend.running(vm.vmid)) return true
  vm.running = false
  delete vm.startedAt
  delete vm.pid
  lab.store.save()
  return false
}

/** vm_start's work once checks passed: apply pending changes, build the cloud-init spec, boot. */
export async function bootVm(lab: Lab, vm: VmRecord): Promise<void> {
  applyPending(vm)
  const config = effectiveConfig(vm)
  await lab.backend.start(vmSpecOf(config, vm.vmid, lab.defaultCiUser))
  vm.running = true
  vm.startedAt = Date.now()
  vm.pid = 1000 + Math.floor(Math.random() * 400000)
  vm.cloudinitApplied = cloudInitValues(config)
  lab.store.save()
}

export function markStopped(lab: Lab, vm: VmRecord): void {
  vm.running = false
  delete vm.startedAt
  delete vm.pid
  lab.store.save()
}

/** Rethrow a simulated crash at once; otherwise run the cleanup and rethrow. */
export function isAbort(error: unknown, ctx: TaskContext): boolean {
  return ctx.signal.aborted || (error instanceof Error && error.name === 'TaskAbortedError')
}
