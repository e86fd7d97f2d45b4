/**
 * Host and cluster routes: version, nodes, resources, next free VM id, storage, permissions, tasks.
 */
import {ApiError, paramError} from './api-error.js'
import {splitList} from './formats.js'
import {type Handler, type Lab, type StorageSpec, syncRunning} from './lab.js'
import type {TaskRecord, VmRecord} from './state.js'
import {decodeUpid} from './tasks.js'
import {bootDisk, cpuCount, diskKeys, driveSizeBytes, isTemplate, memoryMiB} from './vm-config.js'

/** Marks a handler result that carries `total` beside `data`, as the task log does. */
export const TOTAL = Symbol('total')

const GiB = 1024 ** 3
const NODE_CPUS = 16
const NODE_MEMORY = 64 * GiB

export const PVE_VERSION = {release: '8.3', repoid: 'c1689ccb1065a83b', version: '8.3.0'}

function uptime(lab: Lab): number {
  return Math.floor((Date.now() - lab.store.state.bootTime) / 1000)
}

function storageTotal(spec: StorageSpec): number {
  return spec.total ?? 100 * GiB
}

/** Bytes the VM disks on this storage (and node, for local storage) take. */
function storageUsed(lab: Lab, spec: StorageSpec, node: string): number {
  let used = 0
  for (const vm of lab.store.allVms()) {
    if (!spec.shared && vm.node !== node) continue
    for (const key of diskKeys(vm.config)) {
      const value = vm.config[key] ?? ''
      if (value.startsWith(`${spec.id}:`)) used += driveSizeBytes(key, value)
    }
  }
  return used
}

function storageInfo(lab: Lab, spec: StorageSpec, node: string) {
  const total = storageTotal(spec)
  const used = Math.min(total, storageUsed(lab, spec, node))
  return {
    active: 1,
    avail: total - used,
    content: spec.content ?? 'images,rootdir',
    enabled: 1,
    shared: spec.shared ? 1 : 0,
    total,
    type: spec.type ?? 'lvmthin',
    used,
  }
}

export function vmUptime(vm: VmRecord): number {
  return vm.running && vm.startedAt ? Math.floor((Date.now() - vm.startedAt) / 1000) : 0
}

export function vmMaxDisk(vm: VmRecord): number {
  const disk = bootDisk(vm.config)
  return disk ? driveSizeBytes(disk, vm.config[disk] ?? '') : 0
}

async function vmResource(lab: Lab, vm: VmRecord) {
  const running = await syncRunning(lab, vm)
  const resource: Record<string, unknown> = {
    cpu: running ? 0.01 : 0,
    disk: 0,
    diskread: 0,
    diskwrite: 0,
    id: `qemu/${vm.vmid}`,
    maxcpu: cpuCount(vm.config),
    maxdisk: vmMaxDisk(vm),
    maxmem: memoryMiB(vm.config) * 1024 * 1024,
    mem: running ? Math.floor(memoryMiB(vm.config) * 1024 * 1024 * 0.3) : 0,
    name: vm.config.name ?? `VM ${vm.vmid}`,
    netin: 0,
    netout: 0,
    node: vm.node,
    status: running ? 'running' : 'stopped',
    template: isTemplate(vm.config) ? 1 : 0,
    type: 'qemu',
    uptime: vmUptime(vm),
    vmid: vm.vmid,
  }
  if (vm.config.tags !== undefined) resource.tags = vm.config.tags
  if (vm.config.lock !== undefined) resource.lock = vm.config.lock
  return resource
}

function nodeEntry(lab: Lab, node: string) {
  return {
    cpu: 0.02,
    disk: 8 * GiB,
    id: `node/${node}`,
    level: '',
    maxcpu: NODE_CPUS,
    maxdisk: 100 * GiB,
    maxmem: NODE_MEMORY,
    mem: 6 * GiB,
    node,
    status: 'online',
    type: 'node',
    uptime: uptime(lab),
  }
}

function canSeeTask(request: Parameters<Handler>[0], task: TaskRecord): boolean {
  return task.user === request.user || request.acl.has(`/nodes/${task.node}`, 'Sys.Audit')
}

/** The token id split as the tasks API shows it: user `kp@pve`, tokenid `automation`. */
function taskView(task: TaskRecord) {
  const view: Record<string, unknown> = {
    id: task.id,
    node: task.node,
    pid: task.pid,
    pstart: task.pstart,
    starttime: task.starttime,
    type: task.type,
    upid: task.upid,
    user: task.user,
  }
  const m = /^(.+)!(.+)$/.exec(task.user)
  if (m) {
    view.user = m[1]
    view.tokenid = m[2]
  }
  return view
}

function findTask(request: Parameters<Handler>[0]): TaskRecord {
  const {upid} = request.params
  const decoded = decodeUpid(upid ?? '')
  if (!decoded) paramError({upid: 'unable to parse worker upid'})
  const task = request.lab.store.task(upid ?? '')
  if (!task || task.node !== request.params.node) paramError({upid: 'no such task'})
  if (task.user !== request.user) request.acl.checkFull(`/nodes/${request.params.node}`, ['Sys.Audit'], false)
  return task
}

export const hostRoutes: Record<string, Handler> = {
  'GET /version': () => ({...PVE_VERSION}),

  'GET /nodes': ({lab}) => lab.nodes.map((node) => ({...nodeEntry(lab, node), ssl_fingerprint: lab.fingerprint})),

  'GET /nodes/{node}/status': ({lab}) => ({
    'boot-info': {mode: 'efi', secureboot: 0},
    cpu: 0.02,
    cpuinfo: {cores: NODE_CPUS / 2, cpus: NODE_CPUS, flags: '', hvm: '1', mhz: '3000.000', model: 'Lab Virtual CPU', sockets: 1, user_hz: 100},
    'current-kernel': {machine: 'x86_64', release: '6.8.12-4-pve', sysname: 'Linux', version: '#1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4'},
    idle: 0,
    ksm: {shared: 0},
    kversion: 'Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4',
    loadavg: ['0.12', '0.08', '0.05'],
    memory: {free: NODE_MEMORY - 6 * GiB, total: NODE_MEMORY, used: 6 * GiB},
    pveversion: `pve-manager/${PVE_VERSION.version}/${PVE_VERSION.repoid}`,
    rootfs: {avail: 92 * GiB, free: 92 * GiB, total: 100 * GiB, used: 8 * GiB},
    swap: {free: 8 * GiB, total: 8 * GiB, used: 0},
    uptime: uptime(lab),
    wait: 0,
  }),

  'GET /cluster/status': ({lab}) => {
    const nodes = lab.nodes.map((node, i) => ({id: `node/${node}`, ip: `127.0.0.${i + 1}`, level: '', local: i === 0 ? 1 : 0, name: node, nodeid: i + 1, online: 1, type: 'node'}))
    if (lab.nodes.length === 1) return nodes.map(({nodeid: _n, ...n}) => n)
    return [{id: 'cluster', name: 'lab', nodes: lab.nodes.length, quorate: 1, type: 'cluster', version: lab.nodes.length}, ...nodes]
  },

  'GET /cluster/resources': async (request) => {
    const {lab} = request
    const type = request.params.type
    const out: unknown[] = []
    if (!type || type === 'node') out.push(...lab.nodes.map((node) => ({...nodeEntry(lab, node), 'cgroup-mode': 2})))
    if (!type || type === 'storage') {
      for (const node of lab.nodes) {
        for (const spec of lab.storages) {
          const info = storageInfo(lab, spec, node)
          out.push({content: info.content, disk: info.used, id: `storage/${node}/${spec.id}`, maxdisk: info.total, node, plugintype: info.type, shared: info.shared, status: 'available', storage: spec.id, type: 'storage'})
        }
      }
    }
    if (!type || type === 'vm') {
      for (const vm of lab.store.allVms()) {
        // Like the real index: only what the token may audit.
        if (!request.acl.has(`/vms/${vm.vmid}`, 'VM.Audit')) continue
        out.push(await vmResource(lab, vm))
      }
    }
    return out
  },

  'GET /cluster/nextid': ({lab, params}) => {
    const used = new Set(lab.store.allVms().map((vm) => vm.vmid))
    if (params.vmid !== undefined) {
      const vmid = Number(params.vmid)
      if (used.has(vmid)) paramError({vmid: `VM ${vmid} already exists`})
      return String(vmid)
    }
    for (let vmid = 100; vmid < 1_000_000; vmid++) if (!used.has(vmid)) return String(vmid)
    throw new ApiError(500, 'unable to get any free VMID in range [100, 999999]')
  },

  'GET /nodes/{node}/storage': ({lab, params, acl}) => {
    const wanted = params.storage
    const contents = params.content ? splitList(params.content) : []
    return lab.storages
      .filter((spec) => wanted === undefined || spec.id === wanted)
      .filter((spec) => acl.has(`/storage/${spec.id}`, 'Datastore.Audit') || acl.has(`/storage/${spec.id}`, 'Datastore.AllocateSpace'))
      .map((spec) => ({...storageInfo(lab, spec, params.node ?? ''), storage: spec.id}))
      .filter((info) => contents.every((c) => info.content.split(',').includes(c)))
  },

  'GET /nodes/{node}/storage/{storage}/status': ({lab, params}) => {
    const spec = lab.storages.find((s) => s.id === params.storage)
    if (!spec) throw new ApiError(500, `storage '${params.storage}' does not exist`)
    return storageInfo(lab, spec, params.node ?? '')
  },

  'GET /access/permissions': ({acl, params, user}) => {
    if (params.userid !== undefined && params.userid !== user && !user.startsWith(`${params.userid}!`)) {
      acl.checkFull('/access', ['Sys.Audit'], false)
    }
    return acl.dump(params.path)
  },

  'GET /nodes/{node}/tasks': (request) => {
    const {params, lab} = request
    const start = Number(params.start ?? 0)
    const limit = Number(params.limit ?? 50)
    const source = params.source ?? 'archive'
    const types = params.typefilter
    const statuses = params.statusfilter ? splitList(params.statusfilter).map((s) => s.toLowerCase()) : undefined
    const tasks = [...lab.store.state.tasks]
      .reverse()
      .filter((t) => t.node === params.node && canSeeTask(request, t))
      .filter((t) => (source === 'active' ? t.status === 'running' : source === 'archive' ? t.status === 'stopped' : true))
      .filter((t) => params.vmid === undefined || t.id === params.vmid)
      .filter((t) => types === undefined || t.type === types)
      .filter((t) => params.userfilter === undefined || t.user.includes(params.userfilter))
      .filter((t) => params.errors !== '1' || (t.status === 'stopped' && t.exitstatus !== 'OK'))
      .filter((t) => params.since === undefined || t.starttime >= Number(params.since))
      .filter((t) => params.until === undefined || t.starttime <= Number(params.until))
      .filter((t) => {
        if (!statuses) return true
        const kind = t.status === 'running' ? 'unknown' : t.exitstatus === 'OK' ? 'ok' : t.exitstatus?.startsWith('WARNINGS') ? 'warning' : 'error'
        return statuses.includes(kind)
      })
    return tasks.slice(start, start + limit).map((t) => {
      const view = taskView(t)
      if (t.status === 'stopped') {
        view.status = t.exitstatus
        view.endtime = t.endtime
      }
      return view
    })
  },

  'GET /nodes/{node}/tasks/{upid}': (request) => {
    findTask(request)
    return [{name: 'log'}, {name: 'status'}]
  },

  'GET /nodes/{node}/tasks/{upid}/status': (request) => {
    const task = findTask(request)
    const view = taskView(task)
    view.status = task.status
    if (task.status === 'stopped') view.exitstatus = task.exitstatus
    return view
  },

  'GET /nodes/{node}/tasks/{upid}/log': (request) => {
    const task = findTask(request)
    const start = Number(request.params.start ?? 0)
    let limit = Number(request.params.limit ?? 50)
    if (limit === 0) limit = 50
    const lines = task.log.slice(start, start + limit).map((t, i) => ({n: start + i + 1, t}))
    // The real answer carries the line count beside `data`.
    return {[TOTAL]: task.log.length, data: lines}
  },
}
