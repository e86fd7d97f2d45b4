/**
 * Clones and snapshots, as qemu-server's clone_vm and PVE::AbstractConfig's snapshot_create,
 * snapshot_rollback and snapshot_delete do them.
 *
 * Locks during a clone (qemu-server 8.3): the new VM's config is first a temporary file holding
 * `lock: clone` and the description ` qmclone temporary file`, and the new VM's flock is held for the
 * whole copy. The source gets no config lock; it gets a flock — shared in 8.3's code for a stopped
 * template, exclusive by default here (see faults.ts: CloneLockFault) to reproduce parallel-clone lock
 * timeouts. Snapshots set `lock: snapshot` / `snapshot-delete` / `rollback` in the config for the time
 * the volumes are worked on, outside the flock: other changes then fail with `VM is locked (snapshot)`.
 */
import {fail, messageOf} from './api-error.js'
import {checkLock, type Handler, isAbort, type Lab, loadVm, lockConfig, markStopped, type Request, syncRunning, bootVm, vmidOf} from './lab.js'
import type {SnapshotRecord, VmRecord} from './state.js'
import type {TaskContext} from './tasks.js'
import {
  configDigest,
  DRIVE_KEY,
  isCdrom,
  isCloudinitDrive,
  isTemplate,
  newUuid,
  normalizeNet,
  parseDrive,
  printDrive,
  typedConfig,
} from './vm-config.js'

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

interface ClonePlan {
  full: boolean
  old: Record<string, string>
  vm: VmRecord
}

/** Keys a snapshot or a clone does not copy. */
const NOT_COPIED = new Set(['snapshots', 'parent', 'snaptime', 'vmstate', 'snapstate', 'lock', 'digest', 'pending'])

function cloneVm(request: Request): string {
  const {acl, lab, params} = request
  const node = params.node ?? ''
  const vmid = vmidOf(params)
  const newid = vmidOf(params, 'newid')
  const {format, pool, snapname, storage} = params
  const target = params.target && params.target !== node && params.target !== 'localhost' ? params.target : undefined

  const loadAndCheck = (): ClonePlan => {
    if (pool !== undefined && !lab.pools.includes(pool)) fail(`pool '${pool}' does not exist`)
    if (target && !lab.nodes.includes(target)) fail(`no such cluster node '${target}'`)
    if (storage) {
      const spec = lab.storages.find((s) => s.id === storage)
      if (!spec) fail(`storage '${storage}' does not exist`)
      if (target && !spec.shared) fail(`can't clone to non-shared storage '${storage}'`)
    }
    const vm = loadVm(lab, node, vmid)
    checkLock(vm)
    if (snapname && !vm.snapshots[snapname]) fail(`snapshot '${snapname}' does not exist`)
    const full = params.full !== undefined ? params.full === '1' : !isTemplate(vm.config)
    if (storage !== undefined && !full) fail("parameter 'storage' not allowed for linked clones")
    if (format !== undefined && !full) fail("parameter 'format' not allowed for linked clones")
    const old = snapname ? (vm.snapshots[snapname]?.config ?? {}) : vm.config
    let shared = true
    for (const [key, value] of Object.entries(old)) {
      if (!DRIVE_KEY.test(key)) continue
      const drive = parseDrive(key, value)
      if (!drive?.file || drive.file === 'none') continue
      const sid = drive.file.split(':')[0] ?? ''
      if (!lab.storages.find((s) => s.id === sid)?.shared) shared = false
      if (!isCdrom(drive)) acl.checkFull(`/storage/${storage ?? sid}`, ['Datastore.AllocateSpace'], false)
    }
    if (target && !shared) fail(`can't clone VM to node '${target}' (VM uses local storage)`)
    if (lab.store.vm(newid)) fail(`unable to create VM ${newid}: config file already exists`)
    return {full, old, vm}
  }

  const cloneFn = async (ctx: TaskContext) => {
    const {full, old} = loadAndCheck()
    const newconf: Record<string, string> = {}
    const drives: string[] = []
    for (const [key, value] of Object.entries(old)) {
      if (NOT_COPIED.has(key) || /^unused\d+$/.test(key)) continue
      if (/^net\d+$/.test(key)) newconf[key] = normalizeNet(value, key, true)
      else if (DRIVE_KEY.test(key)) {
        const drive = parseDrive(key, value)
        if (!drive) fail(`unable to parse drive options for '${key}'`)
        if (isCdrom(drive) && !isCloudinitDrive(drive)) newconf[key] = value
        else drives.push(key)
      } else newconf[key] = value
    }
    newconf.smbios1 = `uuid=${newUuid()}`
    if (newconf.vmgenid) newconf.vmgenid = newUuid()
    delete newconf.template
    newconf.name = params.name ?? `Copy-of-VM-${old.name ?? vmid}`
    if (params.description) newconf.description = params.description

    // "create empty/temp config - this fails if VM already exists on other node"
    lab.store.putVm({config: {description: ' qmclone temporary file\n', lock: 'clone'}, node, pending: {}, pendingDelete: [], running: false, snapshots: {}, vmid: newid})
    try {
      let n = 0
      for (const key of drives.sort()) {
        const drive = parseDrive(key, old[key] ?? '') ?? {}
        const file = drive.file ?? ''
        const [sid = '', volname = ''] = file.split(':')
        const dest = storage ?? sid
        if (isCloudinitDrive(drive)) {
          ctx.log(`create full clone of drive ${key} (${file})`)
          ctx.log(`  Logical volume "vm-${newid}-cloudinit" created.`)
          newconf[key] = printDrive(key, {...drive, file: `${dest}:vm-${newid}-cloudinit`})
          continue
        }
        const name = `vm-${newid}-disk-${n++}`
        const size = drive.size ?? '0'
        if (full) {
          ctx.log(`create full clone of drive ${key} (${file})`)
          ctx.log(`  Logical volume "${name}" created.`)
          const bytes = Number(size.replace(/[KMGT]$/, '')) * (({K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4} as Record<string, number>)[size.slice(-1)] ?? 1)
          ctx.log(`transferred 0.0 B of ${humanBytes(bytes)} (0.00%)`)
          ctx.log(`transferred ${humanBytes(bytes)} of ${humanBytes(bytes)} (100.00%)`)
          newconf[key] = printDrive(key, {...drive, file: `${dest}:${name}`})
        } else {
          ctx.log(`create linked clone of drive ${key} (${file})`)
          ctx.log(`  Logical volume "${name}" created.`)
          const base = volname.split('/')[0] ?? volname
          newconf[key] = printDrive(key, {...drive, file: `${sid}:${base}/${name}`})
        }
      }
      await ctx.spend()
      await lab.backend.clone(vmid, newid, full)
      lab.store.putVm({config: newconf, node: target ?? node, pending: {}, pendingDelete: [], running: false, snapshots: {}, vmid: newid})
    } catch (error) {
      if (isAbort(error, ctx)) throw error
      // "unlink $conffile; # avoid races -> last thing before die"
      lab.store.deleteVm(newid)
      throw new Error(`clone failed: ${messageOf(error)}`)
    }
  }

  loadAndCheck() // early checks before forking/locking
  const running = lab.store.vm(vmid)?.running ?? false
  return request.lab.tasks.start({
    id: String(vmid),
    node,
    type: 'qmclone',
    user: request.user,
    vmids: [vmid, newid],
    worker: (ctx) => {
      const {mode, timeoutMs} = lab.faults.cloneLock()
      // Exclusive if the VM is running - else shared lock is enough (or exclusive, by the fault).
      const sourceMode = running ? 'exclusive' : mode
      return lockConfig(lab, vmid, () => lockConfig(lab, newid, () => cloneFn(ctx), {ctx, timeoutMs}), {ctx, mode: sourceMode, timeoutMs})
    },
  })
}

function snapshotCopy(config: Record<string, string>): Record<string, string> {
  const copy: Record<string, string> = {}
  for (const [key, value] of Object.entries(config)) {
    if (NOT_COPIED.has(key) || key === 'description' || /^unused\d+$/.test(key)) continue
    copy[key] = value
  }
  return copy
}

function snapshotTask(request: Request, type: string, work: (lab: Lab, vmid: number, ctx: TaskContext) => Promise<void>): string {
  const vmid = vmidOf(request.params)
  return request.lab.tasks.start({id: String(vmid), node: request.params.node ?? '', type, user: request.user, vmids: [vmid], worker: (ctx) => work(request.lab, vmid, ctx)})
}

/** Undo a half-made snapshot after a failure (snapshot_create's cleanup), unless the API crashed. */
async function undoOnFailure(lab: Lab, vmid: number, node: string, ctx: TaskContext, fn: () => Promise<void>, undo: (vm: VmRecord) => void): Promise<void> {
  try {
    await fn()
  } catch (error) {
    if (isAbort(error, ctx)) throw error
    await lockConfig(lab, vmid, () => {
      const vm = lab.store.vm(vmid)
      if (vm && vm.node === node) {
        undo(vm)
        lab.store.save()
      }
    }, {ctx})
    throw error
  }
}

export const cloneRoutes: Record<string, Handler> = {
  'POST /nodes/{node}/qemu/{vmid}/clone': (request) => cloneVm(request),

  'GET /nodes/{node}/qemu/{vmid}/snapshot': async ({lab, params}) => {
    const vm = loadVm(lab, params.node ?? '', vmidOf(params))
    const list: Array<Record<string, unknown>> = Object.entries(vm.snapshots).map(([name, snap]) => {
      const item: Record<string, unknown> = {description: snap.description, name, snaptime: snap.snaptime, vmstate: snap.vmstate ? 1 : 0}
      if (snap.parent) item.parent = snap.parent
      if (snap.snapstate) item.snapstate = snap.snapstate
      return item
    })
    const current: Record<string, unknown> = {description: 'You are here!', digest: configDigest(vm), name: 'current', running: (await syncRunning(lab, vm)) ? 1 : 0}
    if (vm.config.parent) current.parent = vm.config.parent
    list.push(current)
    return list
  },

  'POST /nodes/{node}/qemu/{vmid}/snapshot': (request) => {
    const {params} = request
    const name = params.snapname ?? ''
    const node = params.node ?? ''
    if (name === 'current') fail("unable to use snapshot name 'current' (reserved name)")
    if (name.toLowerCase() === 'pending') fail("unable to use snapshot name 'pending' (reserved name)")
    return snapshotTask(request, 'qmsnapshot', async (lab, vmid, ctx) => {
      await lockConfig(lab, vmid, async () => {
        const vm = loadVm(lab, node, vmid)
        checkLock(vm)
        if (isTemplate(vm.config)) fail("you can't take a snapshot if it's a template")
        if (vm.snapshots[name]) fail(`snapshot name '${name}' already used`)
        const running = await syncRunning(lab, vm)
        const snap: SnapshotRecord = {config: snapshotCopy(vm.config), description: params.description ?? '', snapstate: 'prepare', snaptime: Math.floor(Date.now() / 1000), vmstate: running && params.vmstate === '1'}
        if (vm.config.parent) snap.parent = vm.config.parent
        vm.snapshots[name] = snap
        vm.config.lock = 'snapshot'
        lab.store.save()
      }, {ctx})
      await undoOnFailure(lab, vmid, node, ctx, async () => {
        const vm = loadVm(lab, node, vmid)
        for (const key of Object.keys(vm.config).filter((k) => DRIVE_KEY.test(k)).sort()) {
          const drive = parseDrive(key, vm.config[key] ?? '')
          if (!drive?.file || isCdrom(drive) || isCloudinitDrive(drive)) continue
          const volume = drive.file.split(':')[1]?.split('/').pop() ?? ''
          if (vm.running) ctx.log(`snapshotting '${key}' (${drive.file})`)
          ctx.log(`  Logical volume "snap_${volume}_${name}" created.`)
        }
        await ctx.spend()
        await lab.backend.snapshot(vmid, name)
      }, (vm) => {
        delete vm.snapshots[name]
        delete vm.config.lock
      })
      await lockConfig(lab, vmid, () => {
        const vm = loadVm(lab, node, vmid)
        const snap = vm.snapshots[name]
        if (snap) delete snap.snapstate
        delete vm.config.lock
        vm.config.parent = name
        lab.store.save()
      }, {ctx})
    })
  },

  'GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}': () => [{cmd: 'rollback'}, {cmd: 'config'}],

  'GET /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config': ({lab, params}) => {
    const vm = loadVm(lab, params.node ?? '', vmidOf(params))
    const snap = vm.snapshots[params.snapname ?? '']
    if (!snap) fail(`snapshot '${params.snapname}' does not exist`)
    const config: Record<string, string> = {...snap.config, description: snap.description, snaptime: String(snap.snaptime)}
    if (snap.parent) config.parent = snap.parent
    if (snap.vmstate) config.vmstate = '1'
    return {...typedConfig(config), snaptime: snap.snaptime}
  },

  'PUT /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config': async ({lab, params}) => {
    if (params.description === undefined) return null
    const vmid = vmidOf(params)
    await lockConfig(lab, vmid, () => {
      const vm = loadVm(lab, params.node ?? '', vmid)
      checkLock(vm)
      const snap = vm.snapshots[params.snapname ?? '']
      if (!snap) fail(`snapshot '${params.snapname}' does not exist`)
      snap.description = params.description ?? ''
      lab.store.save()
    })
    return null
  },

  'POST /nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback': (request) => {
    const {params} = request
    const name = params.snapname ?? ''
    const node = params.node ?? ''
    return snapshotTask(request, 'qmrollback', async (lab, vmid, ctx) => {
      let snap: SnapshotRecord | undefined
      await lockConfig(lab, vmid, async () => {
        const vm = loadVm(lab, node, vmid)
        snap = vm.snapshots[name]
        if (!snap) fail(`snapshot '${name}' does not exist`)
        if (snap.snapstate) fail(`unable to rollback to incomplete snapshot (snapstate = ${snap.snapstate})`)
        if (isTemplate(vm.config)) fail("you can't rollback if vm is a template")
        if (vm.config.lock !== 'rollback') checkLock(vm)
        if (await syncRunning(lab, vm)) {
          await lab.backend.stop(vmid)
          markStopped(lab, vm)
        }
        vm.config.lock = 'rollback'
        lab.store.save()
      }, {ctx})
      await ctx.spend()
      await lab.backend.snapshotRollback(vmid, name)
      await lockConfig(lab, vmid, async () => {
        const vm = loadVm(lab, node, vmid)
        if (vm.config.lock !== 'rollback') fail('got wrong lock')
        const restored: Record<string, string> = {...(snap?.config ?? {}), parent: name}
        if (vm.config.description !== undefined) restored.description = vm.config.description
        vm.config = restored
        vm.pending = {}
        vm.pendingDelete = []
        lab.store.save()
        if (params.start === '1' || snap?.vmstate) await bootVm(lab, vm)
      }, {ctx})
    })
  },

  'DELETE /nodes/{node}/qemu/{vmid}/snapshot/{snapname}': (request) => {
    const {params} = request
    const name = params.snapname ?? ''
    const node = params.node ?? ''
    const force = params.force === '1'
    return snapshotTask(request, 'qmdelsnapshot', async (lab, vmid, ctx) => {
      let parent: string | undefined
      await lockConfig(lab, vmid, () => {
        const vm = loadVm(lab, node, vmid)
        if (!force) checkLock(vm)
        if (isTemplate(vm.config)) fail("you can't delete a snapshot if vm is a template")
        const snap = vm.snapshots[name]
        if (!snap) fail(`snapshot '${name}' does not exist`)
        parent = snap.parent
        snap.snapstate = 'delete'
        vm.config.lock = 'snapshot-delete'
        lab.store.save()
      }, {ctx})
      await undoOnFailure(lab, vmid, node, ctx, async () => {
        await ctx.spend()
        await lab.backend.snapshotDelete(vmid, name)
        const vm = loadVm(lab, node, vmid)
        for (const key of Object.keys(vm.config).filter((k) => DRIVE_KEY.test(k)).sort()) {
          const drive = parseDrive(key, vm.config[key] ?? '')
          if (!drive?.file || isCdrom(drive) || isCloudinitDrive(drive)) continue
          ctx.log(`  Logical volume "snap_${drive.file.split(':')[1]?.split('/').pop() ?? ''}_${name}" successfully removed.`)
        }
      }, (vm) => {
        delete vm.config.lock
      })
      await lockConfig(lab, vmid, () => {
        const vm = loadVm(lab, node, vmid)
        const unlink = (conf: {parent?: string}) => {
          if (conf.parent !== name) return
          if (parent) conf.parent = parent
          else delete conf.parent
        }
        const current: {parent?: string} = {parent: vm.config.parent}
        unlink(current)
        if (current.parent === undefined) delete vm.config.parent
        else vm.config.parent = current.parent
        for (const [other, snap] of Object.entries(vm.snapshots)) if (other !== name) unlink(snap)
        delete vm.snapshots[name]
        delete vm.config.lock
        lab.store.save()
      }, {ctx})
    })
  },
}
