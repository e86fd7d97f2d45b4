/**
 * What the simulated Proxmox host keeps on disk: VM configs (with pending changes and snapshots), run
 * state and the task archive. Written atomically (temporary file, then rename) after every change, so
 * a supervisor can restart the API and find everything as it was — including a `lock: clone` left by a
 * clone that a crash interrupted, as on a real host.
 */
import {readFileSync} from 'node:fs'

import {writeFileAtomicSync} from '../../atomic-write.js'

export interface SnapshotRecord {
  config: Record<string, string>
  description: string
  parent?: string
  snapstate?: string
  snaptime: number
  vmstate: boolean
}

export interface VmRecord {
  /** Cloud-init values baked into the last generated cloud-init drive (GET …/cloudinit compares). */
  cloudinitApplied?: Record<string, string>
  /** The `.conf` keys as the file stores them (strings), including `lock`, `parent`, `template`. */
  config: Record<string, string>
  node: string
  pending: Record<string, string>
  pendingDelete: string[]
  pid?: number
  running: boolean
  snapshots: Record<string, SnapshotRecord>
  startedAt?: number
  vmid: number
}

export interface TaskRecord {
  endtime?: number
  exitstatus?: string
  id: string
  log: string[]
  node: string
  pid: number
  pstart: number
  starttime: number
  status: 'running' | 'stopped'
  type: string
  upid: string
  user: string
}

export interface LabState {
  bootTime: number
  nextPid: number
  tasks: TaskRecord[]
  version: 1
  vms: Record<string, VmRecord>
}

/** How many finished tasks the archive keeps. */
const TASK_ARCHIVE = 2000

export function emptyState(now = Date.now()): LabState {
  return {
    // The "host" booted a while ago: task pstart values are clock ticks since boot.
    bootTime: now - 3 * 3600 * 1000,
    nextPid: 0x4a000 + Math.floor(Math.random() * 0x1000),
    tasks: [],
    version: 1,
    vms: {},
  }
}

export class StateStore {
  readonly file?: string
  /** Set by a simulated crash: nothing more reaches the disk. */
  frozen = false
  state: LabState

  private constructor(state: LabState, file?: string) {
    this.state = state
    this.file = file
  }

  /** Load the state file, or start empty. Tasks that were running when the API died end as the real ones do. */
  static open(file?: string): StateStore {
    if (!file) return new StateStore(emptyState())
    let state: LabState
    try {
      state = JSON.parse(readFileSync(file, 'utf8')) as LabState
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      state = emptyState()
    }
    for (const task of state.tasks) {
      if (task.status === 'running') {
        task.status = 'stopped'
        task.exitstatus = 'unexpected status'
        task.endtime = Math.floor(Date.now() / 1000)
      }
    }
    const store = new StateStore(state, file)
    store.save()
    return store
  }

  vm(vmid: number): VmRecord | undefined {
    return this.state.vms[String(vmid)]
  }

  putVm(vm: VmRecord): void {
    this.state.vms[String(vm.vmid)] = vm
    this.save()
  }

  deleteVm(vmid: number): void {
    delete this.state.vms[String(vmid)]
    this.save()
  }

  allVms(): VmRecord[] {
    return Object.values(this.state.vms).sort((a, b) => a.vmid - b.vmid)
  }

  addTask(task: TaskRecord): void {
    this.state.tasks.push(task)
    const finished = this.state.tasks.filter((t) => t.status === 'stopped')
    if (finished.length > TASK_ARCHIVE) {
      const drop = new Set(finished.slice(0, finished.length - TASK_ARCHIVE))
      this.state.tasks = this.state.tasks.filter((t) => !drop.has(t))
    }
    this.save()
  }

  task(upid: string): TaskRecord | undefined {
    return this.state.tasks.find((t) => t.upid === upid)
  }

  save(): void {
    if (!this.file || this.frozen) return
    writeFileAtomicSync(this.file, `${JSON.stringify(this.state, null, 1)}\n`, {dirMode: 0o777, flush: false, mode: 0o600})
  }
}
