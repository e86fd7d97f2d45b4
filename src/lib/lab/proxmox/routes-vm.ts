/**
 * VM routes of qemu-server's API2/Qemu.pm that kp uses: list, config (GET/POST/PUT), pending,
 * cloud-init, status and power, resize, template, destroy, and the guest agent. Each keeps the real
 * split between checks done before answering (HTTP 500 with the message) and checks done in the task
 * (the task's exit status).
 */
import {setTimeout as sleep} from 'node:timers/promises'

import {fail, paramError} from './api-error.js'
import {cloudInitValues, dumpCloudInit, sshKeysValid} from './cloud-init.js'
import {parseSize, splitList} from './formats.js'
import {
  bootVm,
  checkLock,
  type Handler,
  type Lab,
  loadVm,
  lockConfig,
  markStopped,
  type Request,
  syncRunning,
  vmidOf,
} from './lab.js'
import {checkConfigKey} from './permissions.js'
import {vmMaxDisk, vmUptime} from './routes-host.js'
import type {VmRecord} from './state.js'
import type {TaskContext} from './tasks.js'
import {
  agentEnabled,
  applyPending,
  configDigest,
  cpuCount,
  DRIVE_KEY,
  effectiveConfig,
  hotpluggable,
  isCdrom,
  isCloudinitDrive,
  isTemplate,
  memoryMiB,
  normalizeNet,
  optionExists,
  parseDrive,
  printDrive,
  typedConfig,
} from './vm-config.js'

const NEW_DISK_RE = /^(?:([^/:\s]+):)?(\d+(?:\.\d+)?)$/

function rootOnly(params: Record<string, string>, name: string): void {
  if (params[name] === '1') paramError({[name]: 'Only root may use this option.'})
}

function startTask(request: Request, type: string, vmid: number, worker: (ctx: TaskContext) => Promise<void>, vmids = [vmid]): string {
  return request.lab.tasks.start({id: String(vmid), node: request.params.node ?? '', type, user: request.user, vmids, worker})
}

/** `GET …/status/current` and the VM index share this view. */
async function vmStatus(lab: Lab, vm: VmRecord, full = true): Promise<Record<string, unknown>> {
  const running = await syncRunning(lab, vm)
  const maxmem = memoryMiB(vm.config) * 1024 * 1024
  const status: Record<string, unknown> = {
    cpu: running ? 0.01 : 0,
    cpus: cpuCount(vm.config),
    disk: 0,
    diskread: 0,
    diskwrite: 0,
    maxdisk: vmMaxDisk(vm),
    maxmem,
    mem: running ? Math.floor(maxmem * 0.3) : 0,
    name: vm.config.name ?? `VM ${vm.vmid}`,
    netin: 0,
    netout: 0,
    status: running ? 'running' : 'stopped',
    uptime: vmUptime(vm),
    vmid: vm.vmid,
  }
  if (running && vm.pid !== undefined) status.pid = vm.pid
  if (vm.config.lock !== undefined) status.lock = vm.config.lock
  if (vm.config.tags !== undefined) status.tags = vm.config.tags
  if (isTemplate(vm.config)) status.template = 1
  if (full) {
    status.qmpstatus = running ? 'running' : 'stopped'
    status.ha = {managed: 0}
    if (agentEnabled(vm.config)) status.agent = 1
    if (vm.config.serial0 !== undefined) status.serial = 1
    if (running) {
      status['running-machine'] = 'pc-i440fx-9.0+pve0'
      status['running-qemu'] = '9.0.2'
    }
  }
  return status
}

/** Next free `vm-<vmid>-disk-<n>` on the VM. */
function nextDiskName(vm: VmRecord, storage: string): string {
  const used = new Set<number>()
  for (const value of [...Object.values(vm.config), ...Object.values(vm.pending)]) {
    const m = /vm-\d+-disk-(\d+)/.exec(value)
    if (m) used.add(Number(m[1]))
  }
  let n = 0
  while (used.has(n)) n++
  return `${storage}:vm-${vm.vmid}-disk-${n}`
}

function storageExists(lab: Lab, id: string): void {
  if (!lab.storages.some((s) => s.id === id)) fail(`storage '${id}' does not exist`)
}

/** create_disks: `local-lvm:10` becomes a new 10 GiB volume, `local-lvm:cloudinit` the cloud-init drive. */
function allocateDrive(lab: Lab, vm: VmRecord, key: string, value: string): string {
  const drive = parseDrive(key, value)
  if (!drive?.file) return value
  const cloudinit = /^([^:]+):cloudinit$/.exec(drive.file)
  if (cloudinit) {
    storageExists(lab, cloudinit[1] ?? '')
    return printDrive(key, {...drive, file: `${cloudinit[1]}:vm-${vm.vmid}-cloudinit`, media: 'cdrom'})
  }
  const m = NEW_DISK_RE.exec(drive.file)
  if (!m || isCdrom(drive)) return value
  const storage = m[1]
  if (!storage) fail('no storage ID specified (and no default storage)')
  storageExists(lab, storage)
  return printDrive(key, {...drive, file: nextDiskName(vm, storage), size: `${m[2]}G`})
}

function nextUnused(config: Record<string, string>): string {
  let n = 0
  while (config[`unused${n}`] !== undefined) n++
  return `unused${n}`
}

/** Remove an option now: a detached disk becomes `unusedN` unless `force`. */
function deleteNow(vm: VmRecord, key: string, force: boolean): void {
  const value = vm.config[key]
  if (value !== undefined && DRIVE_KEY.test(key) && !force) {
    const drive = parseDrive(key, value)
    if (drive?.file && !isCdrom(drive) && !isCloudinitDrive(drive)) vm.config[nextUnused(vm.config)] = drive.file
  }
  delete vm.config[key]
}

/** vmconfig_apply_pending (stopped) or vmconfig_hotplug_pending (running), then cleanup_pending. */
function applyChanges(vm: VmRecord, running: boolean, force: boolean): void {
  for (const key of [...vm.pendingDelete]) {
    if (running && !hotpluggable(key, vm.config)) continue
    deleteNow(vm, key, force)
    vm.pendingDelete = vm.pendingDelete.filter((k) => k !== key)
  }
  for (const [key, value] of Object.entries(vm.pending)) {
    if (running && !hotpluggable(key, vm.config)) continue
    // A drive replaced by another volume leaves the old one as unusedN; new options on the same volume do not.
    const old = vm.config[key]
    if (DRIVE_KEY.test(key) && old !== undefined && parseDrive(key, old)?.file !== parseDrive(key, value)?.file) deleteNow(vm, key, false)
    vm.config[key] = value
    delete vm.pending[key]
  }
  for (const [key, value] of Object.entries(vm.pending)) if (vm.config[key] === value) delete vm.pending[key]
  vm.pendingDelete = vm.pendingDelete.filter((key) => vm.config[key] !== undefined)
}

/** update_vm_api: the checks before the lock, under the lock, and the worker (inline for PUT). */
async function updateVm(request: Request, sync: boolean): Promise<unknown> {
  const {acl, lab} = request
  const params = {...request.params}
  const take = (name: string) => {
    const value = params[name]
    delete params[name]
    return value
  }
  const node = take('node') ?? ''
  const vmid = Number(take('vmid'))
  const digest = take('digest')
  const backgroundDelay = take('background_delay')
  const paramText = Object.keys(params)
    .sort()
    .flatMap((key) => [`-${key}`, key === 'cipassword' ? '<hidden>' : (params[key] ?? '')])
    .join(' ')
  rootOnly(params, 'skiplock')
  const skiplock = take('skiplock') === '1'
  const deleteText = take('delete')
  const revertText = take('revert')
  const force = take('force') === '1'
  if (params.sshkeys !== undefined && !sshKeysValid(params.sshkeys)) fail('SSH public key validation error')
  if (!deleteText && !revertText && Object.keys(params).length === 0) fail('no options specified')
  if (params.cdrom !== undefined) {
    params.ide2 = params.cdrom.includes('media=') ? params.cdrom : `${params.cdrom},media=cdrom`
    delete params.cdrom
  }

  const revert = new Set<string>()
  for (const opt of splitList(revertText ?? '')) {
    if (!optionExists(opt)) paramError({revert: `unknown option '${opt}'`})
    if (params[opt] !== undefined) paramError({delete: `you can't use '-${opt}' and -revert ${opt}' at the same time`})
    revert.add(opt)
  }
  const deletes: string[] = []
  for (const raw of splitList(deleteText ?? '')) {
    const opt = raw === 'cdrom' ? 'ide2' : raw
    if (params[opt] !== undefined) paramError({delete: `you can't use '-${opt}' and -delete ${opt}' at the same time`})
    if (revert.has(opt)) paramError({revert: `you can't use '-delete ${opt}' and -revert ${opt}' at the same time`})
    if (!optionExists(opt)) paramError({delete: `unknown option '${opt}'`})
    deletes.push(opt)
  }
  for (const [key, value] of Object.entries(params)) {
    if (DRIVE_KEY.test(key)) {
      const drive = parseDrive(key, value)
      if (!drive) paramError({[key]: 'unable to parse drive options'})
      params[key] = printDrive(key, drive)
      const fresh = NEW_DISK_RE.exec(drive.file ?? '') ?? /^([^:]+):cloudinit$/.exec(drive.file ?? '')
      if (fresh?.[1]) acl.checkFull(`/storage/${fresh[1]}`, ['Datastore.AllocateSpace'], false)
    } else if (/^net\d+$/.test(key)) {
      params[key] = normalizeNet(value, key)
    }
  }
  const current = lab.store.vm(vmid)?.config ?? {}
  for (const key of deletes) checkConfigKey(acl, vmid, key, undefined, current)
  for (const [key, value] of Object.entries(params)) checkConfigKey(acl, vmid, key, value, current)

  return lockConfig(lab, vmid, async () => {
    const vm = loadVm(lab, node, vmid)
    if (digest && digest !== configDigest(vm)) fail('checksum missmatch (file change by other user?)')
    if (!skiplock) checkLock(vm)
    for (const opt of revert) {
      if (vm.config[opt] !== undefined) params[opt] = vm.config[opt]
      else if (vm.pending[opt] !== undefined) deletes.push(opt)
    }

    const worker = async (ctx?: TaskContext) => {
      ctx?.log(`update VM ${vmid}: ${paramText}`)
      if (ctx) await ctx.spend()
      const target = lab.store.vm(vmid)
      if (!target) fail(`Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`)
      for (const opt of deletes) {
        if (target.config[opt] === undefined && target.pending[opt] === undefined) {
          ctx?.log(`cannot delete '${opt}' - not set in current configuration!`)
          continue
        }
        delete target.pending[opt]
        if (!target.pendingDelete.includes(opt)) target.pendingDelete.push(opt)
      }
      for (const [key, value] of Object.entries(params)) {
        target.pending[key] = DRIVE_KEY.test(key) ? allocateDrive(lab, target, key, value) : value
        target.pendingDelete = target.pendingDelete.filter((k) => k !== key)
      }
      applyChanges(target, await syncRunning(lab, target), force)
      lab.store.save()
    }

    if (sync) {
      await worker()
      return null
    }
    const upid = startTask(request, 'qmconfig', vmid, worker)
    if (backgroundDelay !== undefined) {
      const until = Date.now() + Number(backgroundDelay) * 1000
      while (Date.now() < until) {
        const task = lab.store.task(upid)
        if (task?.status === 'stopped') {
          if (task.exitstatus === 'OK' || task.exitstatus?.startsWith('WARNINGS')) return null
          fail(`failed to update VM ${vmid}: ${task.exitstatus}`)
        }
        await sleep(20)
      }
    }
    return upid
  })
}

function pendingArray(vm: VmRecord): Array<Record<string, unknown>> {
  const conf = typedConfig({...vm.config, digest: configDigest(vm)})
  const pending = typedConfig(vm.pending)
  if (conf.cipassword !== undefined) conf.cipassword = '**********'
  if (pending.cipassword !== undefined) pending.cipassword = '********** '
  const items: Array<Record<string, unknown>> = []
  for (const [key, value] of Object.entries(conf)) {
    const item: Record<string, unknown> = {key, value}
    if (pending[key] !== undefined) item.pending = pending[key]
    if (vm.pendingDelete.includes(key)) item.delete = 1
    items.push(item)
  }
  for (const [key, value] of Object.entries(pending)) if (conf[key] === undefined) items.push({key, pending: value})
  for (const key of vm.pendingDelete) if (conf[key] === undefined && pending[key] === undefined) items.push({delete: 1, key})
  return items
}

/** agent_available, then the command: the messages of PVE::QemuServer::Agent. */
async function agentCommand<T>(request: Request, command: string, run: (vm: VmRecord) => Promise<T | undefined>): Promise<T> {
  const {lab, params} = request
  const vmid = vmidOf(params)
  const vm = loadVm(lab, params.node ?? '', vmid)
  if (!agentEnabled(vm.config)) fail('No QEMU guest agent configured')
  if (!(await syncRunning(lab, vm))) fail(`VM ${vmid} is not running`)
  if (lab.faults.agentDown(vmid) || !(await lab.backend.agentPing(vmid))) fail('QEMU guest agent is not running')
  let result: T | undefined
  try {
    result = await run(vm)
  } catch (error) {
    fail(`VM ${vmid} qmp command 'guest-${command}' failed - ${error instanceof Error ? error.message : String(error)}`)
  }
  if (result === undefined) fail(`VM ${vmid} qmp command 'guest-${command}' failed - got timeout`)
  return result
}

function powerTask(type: string, action: (lab: Lab, vm: VmRecord, ctx: TaskContext, params: Record<string, string>) => Promise<void>): Handler {
  return (request) => {
    const {lab, params} = request
    rootOnly(params, 'skiplock')
    rootOnly(params, 'keepActive')
    rootOnly(params, 'migratedfrom')
    const vmid = vmidOf(params)
    // Like vm_start/vm_stop: no check before forking; a missing VM fails the task.
    return startTask(request, type, vmid, (ctx) =>
      lockConfig(lab, vmid, async () => {
        const vm = loadVm(lab, params.node ?? '', vmid)
        await action(lab, vm, ctx, params)
      }, {ctx}),
    )
  }
}

export const vmRoutes: Record<string, Handler> = {
  'GET /nodes/{node}/qemu': async ({acl, lab, params}) => {
    const list: unknown[] = []
    for (const vm of lab.store.allVms()) {
      if (vm.node !== params.node || !acl.has(`/vms/${vm.vmid}`, 'VM.Audit')) continue
      list.push(await vmStatus(lab, vm, params.full === '1'))
    }
    return list
  },

  'GET /nodes/{node}/qemu/{vmid}': ({lab, params}) => {
    loadVm(lab, params.node ?? '', vmidOf(params))
    return ['config', 'pending', 'status', 'unlink', 'vncproxy', 'termproxy', 'migrate', 'resize', 'move', 'rrd', 'rrddata', 'monitor', 'agent', 'snapshot', 'spiceproxy', 'sendkey', 'firewall', 'mtunnel', 'remote_migrate'].map((subdir) => ({subdir}))
  },

  'GET /nodes/{node}/qemu/{vmid}/config': ({lab, params}) => {
    if (params.snapshot && params.current === '1') {
      paramError({current: "cannot use 'snapshot' parameter with 'current'", snapshot: "cannot use 'snapshot' parameter with 'current'"})
    }
    const vm = loadVm(lab, params.node ?? '', vmidOf(params))
    let config: Record<string, string>
    if (params.snapshot) {
      const snap = vm.snapshots[params.snapshot]
      if (!snap) fail(`snapshot '${params.snapshot}' does not exist`)
      config = {...snap.config, snaptime: String(snap.snaptime)}
      if (snap.description) config.description = snap.description
      if (snap.parent) config.parent = snap.parent
    } else {
      config = params.current === '1' ? {...vm.config} : effectiveConfig(vm)
    }
    if (config.cipassword !== undefined) config.cipassword = '**********'
    return {...typedConfig(config), digest: configDigest(vm)}
  },

  'POST /nodes/{node}/qemu/{vmid}/config': (request) => updateVm(request, false),
  'PUT /nodes/{node}/qemu/{vmid}/config': (request) => updateVm(request, true),

  'GET /nodes/{node}/qemu/{vmid}/pending': ({lab, params}) => pendingArray(loadVm(lab, params.node ?? '', vmidOf(params))),

  'GET /nodes/{node}/qemu/{vmid}/cloudinit': ({lab, params}) => {
    const vm = loadVm(lab, params.node ?? '', vmidOf(params))
    const now = cloudInitValues(effectiveConfig(vm))
    const applied = vm.cloudinitApplied ?? now
    const items: Array<Record<string, unknown>> = []
    for (const key of [...new Set([...Object.keys(applied), ...Object.keys(now)])].sort()) {
      if (key === 'name') continue
      const item: Record<string, unknown> = {key}
      if (applied[key] !== undefined) item.value = key === 'cipassword' ? '**********' : applied[key]
      if (now[key] === undefined) item.delete = 1
      else if (now[key] !== applied[key]) item.pending = key === 'cipassword' ? '**********' : now[key]
      items.push(item)
    }
    return items
  },

  'PUT /nodes/{node}/qemu/{vmid}/cloudinit': async ({lab, params}) => {
    const vmid = vmidOf(params)
    await lockConfig(lab, vmid, () => {
      const vm = loadVm(lab, params.node ?? '', vmid)
      vm.cloudinitApplied = cloudInitValues(effectiveConfig(vm))
      lab.store.save()
    })
    return null
  },

  'GET /nodes/{node}/qemu/{vmid}/cloudinit/dump': ({lab, params}) => {
    const vm = loadVm(lab, params.node ?? '', vmidOf(params))
    return dumpCloudInit(effectiveConfig(vm), vm.vmid, params.type ?? 'user', lab.defaultCiUser)
  },

  'GET /nodes/{node}/qemu/{vmid}/status/current': async ({lab, params}) => vmStatus(lab, loadVm(lab, params.node ?? '', vmidOf(params))),

  'POST /nodes/{node}/qemu/{vmid}/status/start': powerTask('qmstart', async (lab, vm, ctx, params) => {
    if (isTemplate(vm.config)) fail("you can't start a vm if it's a template")
    if (params.skiplock !== '1') checkLock(vm)
    if (await syncRunning(lab, vm)) fail(`VM ${vm.vmid} already running`)
    await ctx.spend()
    await bootVm(lab, vm)
  }),

  'POST /nodes/{node}/qemu/{vmid}/status/stop': powerTask('qmstop', async (lab, vm, ctx, params) => {
    if (params.skiplock !== '1') checkLock(vm)
    if (!(await syncRunning(lab, vm))) return
    await ctx.spend()
    await lab.backend.stop(vm.vmid)
    markStopped(lab, vm)
  }),

  'POST /nodes/{node}/qemu/{vmid}/status/shutdown': powerTask('qmshutdown', async (lab, vm, ctx, params) => {
    if (params.skiplock !== '1') checkLock(vm)
    if (!(await syncRunning(lab, vm))) return
    await ctx.spend()
    // forceStop and timeout matter when the guest ignores the ACPI request: a lab VM whose boot hangs
    // (kp lab fault --no-boot) does, as a real guest stuck before its OS runs.
    const timeout = params.timeout === undefined ? undefined : Number(params.timeout) * 1000
    await lab.backend.shutdown(vm.vmid, {forceStop: params.forceStop === '1', ...(timeout === undefined ? {} : {timeoutMs: timeout})})
    markStopped(lab, vm)
  }),

  'POST /nodes/{node}/qemu/{vmid}/status/reboot': async (request) => {
    const {lab, params} = request
    const vmid = vmidOf(params)
    const vm = loadVm(lab, params.node ?? '', vmid)
    if (!(await syncRunning(lab, vm))) fail(`VM ${vmid} not running`)
    return powerTask('qmreboot', async (l, target, ctx) => {
      checkLock(target)
      await ctx.spend()
      await l.backend.reboot(target.vmid)
      // The VM comes back through a fresh start: pending changes apply, cloud-init is regenerated.
      applyPending(target)
      target.cloudinitApplied = cloudInitValues(target.config)
      target.startedAt = Date.now()
      l.store.save()
    })(request)
  },

  'PUT /nodes/{node}/qemu/{vmid}/resize': (request) => {
    const {lab, params} = request
    rootOnly(params, 'skiplock')
    const vmid = vmidOf(params)
    const node = params.node ?? ''
    loadVm(lab, node, vmid)
    const disk = params.disk ?? ''
    const sizeText = params.size ?? ''
    return startTask(request, 'resize', vmid, (ctx) =>
      lockConfig(lab, vmid, async () => {
        const vm = loadVm(lab, node, vmid)
        if (params.digest && params.digest !== configDigest(vm)) fail('checksum missmatch (file change by other user?)')
        if (params.skiplock !== '1') checkLock(vm)
        const value = vm.config[disk]
        if (value === undefined) fail(`disk '${disk}' does not exist`)
        const drive = parseDrive(disk, value)
        if (!drive?.file) fail(`disk '${disk}' has no associated volume`)
        if (isCdrom(drive)) fail("you can't resize a cdrom")
        request.acl.checkFull(`/storage/${drive.file.split(':')[0]}`, ['Datastore.AllocateSpace'], false)
        const size = parseSize(drive.size ?? '0') ?? 0
        const m = /^(\+)?(\d+(?:\.\d+)?[KMGT]?)$/.exec(sizeText)
        let newSize = parseSize(m?.[2] ?? '') ?? 0
        if (m?.[1]) newSize += size
        if (newSize < size) fail('shrinking disks is not supported')
        if (newSize === size) return
        await ctx.spend()
        await lab.backend.resize(vmid, newSize)
        const volume = drive.file.split(':')[1]?.split('/').pop() ?? drive.file
        const gib = (bytes: number) => (bytes / 1024 ** 3).toFixed(2)
        ctx.log(`  Size of logical volume pve/${volume} changed from ${gib(size)} GiB (${size / 4194304} extents) to ${gib(newSize)} GiB (${Math.ceil(newSize / 4194304)} extents).`)
        ctx.log(`  Logical volume pve/${volume} successfully resized.`)
        vm.config[disk] = printDrive(disk, {...drive, size: String(newSize)})
        lab.store.save()
      }, {ctx}),
    )
  },

  'POST /nodes/{node}/qemu/{vmid}/template': (request) => {
    const {lab, params} = request
    const vmid = vmidOf(params)
    const node = params.node ?? ''
    const check = async () => {
      const vm = loadVm(lab, node, vmid)
      checkLock(vm)
      if (Object.keys(vm.snapshots).length > 0) fail('unable to create template, because VM contains snapshots')
      if (isTemplate(vm.config) && !params.disk) fail("you can't convert a template to a template")
      if (await syncRunning(lab, vm)) fail("you can't convert a VM to template if VM is running")
      return vm
    }
    return check().then(() =>
      startTask(request, 'qmtemplate', vmid, (ctx) =>
        lockConfig(lab, vmid, async () => {
          const vm = await check()
          await ctx.spend()
          vm.config.template = '1'
          for (const key of Object.keys(vm.config)) {
            if (!DRIVE_KEY.test(key) || (params.disk && key !== params.disk)) continue
            const drive = parseDrive(key, vm.config[key] ?? '')
            const m = /^([^:]+):vm-(\d+)-disk-(\d+)$/.exec(drive?.file ?? '')
            if (!drive || !m) continue
            ctx.log(`  Renamed "vm-${m[2]}-disk-${m[3]}" to "base-${m[2]}-disk-${m[3]}" in volume group "pve"`)
            ctx.log(`  Logical volume pve/base-${m[2]}-disk-${m[3]} changed.`)
            vm.config[key] = printDrive(key, {...drive, file: `${m[1]}:base-${m[2]}-disk-${m[3]}`})
          }
          lab.store.save()
        }, {ctx}),
      ),
    )
  },

  'DELETE /nodes/{node}/qemu/{vmid}': async (request) => {
    const {lab, params} = request
    rootOnly(params, 'skiplock')
    const vmid = vmidOf(params)
    const node = params.node ?? ''
    const earlyChecks = async () => {
      const vm = loadVm(lab, node, vmid)
      if (vm.config.protection === '1') fail(`can't remove VM ${vmid} - protection mode enabled`)
      if (await syncRunning(lab, vm)) fail(`VM ${vmid} is running - destroy failed`)
      return vm
    }
    await earlyChecks()
    return startTask(request, 'qmdestroy', vmid, (ctx) =>
      lockConfig(lab, vmid, async () => {
        const vm = await earlyChecks()
        checkLock(vm)
        await ctx.spend()
        await lab.backend.destroy(vmid)
        for (const value of Object.values(vm.config)) {
          const volume = /^[^:,]+:(?:base-\d+-disk-\d+\/)?((?:vm|base)-\d+-(?:disk-\d+|cloudinit))/.exec(value)?.[1]
          if (volume) ctx.log(`  Logical volume "${volume}" successfully removed.`)
        }
        vm.config = {lock: 'destroyed'}
        if (params.purge === '1') ctx.log(`purging VM ${vmid} from related configurations..`)
        lab.store.deleteVm(vmid)
      }, {ctx}),
    )
  },

  'POST /nodes/{node}/qemu/{vmid}/agent/ping': (request) => agentCommand(request, 'ping', async (vm) => ((await request.lab.backend.agentPing(vm.vmid)) ? {result: {}} : undefined)),

  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': (request) =>
    agentCommand(request, 'network-get-interfaces', async (vm) => {
      const result = await request.lab.backend.agentInterfaces(vm.vmid)
      return result === undefined ? undefined : {result}
    }),

  'GET /nodes/{node}/qemu/{vmid}/agent/file-read': (request) =>
    agentCommand(request, 'file-open', async (vm) => {
      const content = await request.lab.backend.agentFileRead(vm.vmid, request.params.file ?? '')
      if (content === undefined) return undefined
      const max = 16 * 1024 * 1024
      return content.length > max ? {content: content.slice(0, max), truncated: 1} : {content}
    }),

  'GET /nodes/{node}/qemu/{vmid}/agent/get-host-name': (request) =>
    agentCommand(request, 'get-host-name', (vm) => Promise.resolve({result: {'host-name': (vm.config.name ?? `VM${vm.vmid}`).split('.')[0]}})),

  'GET /nodes/{node}/qemu/{vmid}/agent/info': (request) =>
    agentCommand(request, 'info', () =>
      Promise.resolve({
        result: {
          supported_commands: ['guest-ping', 'guest-info', 'guest-get-host-name', 'guest-network-get-interfaces', 'guest-file-open', 'guest-file-read', 'guest-file-close'].map((name) => ({enabled: true, name, 'success-response': true})),
          version: '7.2.11',
        },
      }),
    ),
}
