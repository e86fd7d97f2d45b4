import {afterEach, describe, expect, it} from 'vitest'

import {decodeUpid, UPID_RE} from '../../../src/lib/lab/proxmox/index.js'
import {call, cloneTemplate, FAST_TASKS, ok, runTask, startLab, taskLog, type TaskStatus, type TestLab, waitTask} from './helpers.js'

/** The UPID regex of the real API (PVE::Tools::upid_decode). */
const REAL_UPID = /^UPID:([a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?):([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8,9}):([0-9A-Fa-f]{8}):([^:\s]+):([^:\s]*):([^:\s]+):$/

const labs: TestLab[] = []
async function lab(overrides: Parameters<typeof startLab>[0] = {}): Promise<TestLab> {
  const started = await startLab(overrides)
  labs.push(started)
  return started
}

afterEach(async () => {
  await Promise.all(labs.splice(0).map((l) => l.server.close()))
})

describe('asynchronous tasks', () => {
  it('returns a UPID at once; the status goes running → stopped with exitstatus OK', async () => {
    const {server} = await lab({taskDurations: {...FAST_TASKS, qmclone: 300}})
    const upid = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: 'cp1', newid: 201}))
    expect(upid).toMatch(REAL_UPID)
    expect(upid).toMatch(UPID_RE)
    expect(decodeUpid(upid)).toMatchObject({id: '9000', node: 'pve1', type: 'qmclone', user: 'kp@pve!automation'})

    const seen: string[] = []
    let final: TaskStatus | undefined
    for (let i = 0; i < 400 && !final; i++) {
      const status = await ok<TaskStatus>(call(server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`))
      seen.push(status.status)
      if (status.status === 'stopped') final = status
      else await new Promise((r) => setTimeout(r, 20))
    }
    expect(seen[0]).toBe('running')
    expect(final).toMatchObject({exitstatus: 'OK', status: 'stopped', type: 'qmclone', upid, user: 'kp@pve', tokenid: 'automation'})
  })

  it('pages the task log with start and limit, with the total beside the data', async () => {
    const {server} = await lab()
    const {upid} = await cloneTemplate(server, 201, {full: 1})
    const all = await taskLog(server, upid)
    expect(all[0]).toBe('create full clone of drive ide2 (local-lvm:vm-9000-cloudinit)')
    expect(all).toContain('create full clone of drive scsi0 (local-lvm:base-9000-disk-0)')
    expect(all.at(-1)).toBe('TASK OK')

    const page = await call(server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`, {limit: 2, start: 2})
    expect(page.body).toEqual({data: [{n: 3, t: all[2]}, {n: 4, t: all[3]}], total: all.length})
    const beyond = await call(server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/log`, {start: 100})
    expect(beyond.body).toEqual({data: [], total: all.length})
  })

  it('answers for unknown and malformed UPIDs as the real API does', async () => {
    const {server} = await lab()
    const unknown = await call(server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent('UPID:pve1:00000001:00000002:00000003:qmstart:101:root@pam:')}/status`)
    expect([unknown.status, unknown.body]).toEqual([400, {data: null, errors: {upid: 'no such task'}}])
    const bad = await call(server, 'GET', '/nodes/pve1/tasks/not-a-upid/status')
    expect(bad.body?.errors).toEqual({upid: 'unable to parse worker upid'})
  })

  it('lists tasks, running and finished', async () => {
    const {server} = await lab()
    await cloneTemplate(server, 201)
    const tasks = await ok<Array<Record<string, unknown>>>(call(server, 'GET', '/nodes/pve1/tasks', {vmid: 9000}))
    expect(tasks).toEqual([expect.objectContaining({id: '9000', status: 'OK', type: 'qmclone', user: 'kp@pve'})])
  })
})

describe('locks', () => {
  it('while a clone runs the new VM is a temporary config locked "clone", and its flock is held', async () => {
    const {server} = await lab({lockWaitMs: 100, taskDurations: {...FAST_TASKS, qmclone: 800}})
    const upid = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: 'cp1', newid: 201}))
    await new Promise((r) => setTimeout(r, 100))

    const temp = await ok<Record<string, unknown>>(call(server, 'GET', '/nodes/pve1/qemu/201/config'))
    expect(temp).toEqual({description: ' qmclone temporary file\n', digest: expect.any(String) as unknown, lock: 'clone'})
    const status = await ok<Record<string, unknown>>(call(server, 'GET', '/nodes/pve1/qemu/201/status/current'))
    expect(status).toMatchObject({lock: 'clone', status: 'stopped'})

    // A config change takes the VM's flock (lock_config): the clone holds it, so it times out.
    const change = await call(server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2})
    expect([change.status, change.statusText]).toEqual([500, "can't lock file '/var/lock/qemu-server/lock-201.conf' - got timeout"])

    expect((await waitTask(server, upid)).exitstatus).toBe('OK')
    expect((await call(server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2})).status).toBe(200)
  })

  it('a config change waits for the flock, as lock_config does, and goes through once the clone is done', async () => {
    const {server} = await lab({taskDurations: {...FAST_TASKS, qmclone: 300}})
    const upid = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: 'cp1', newid: 201}))
    await new Promise((r) => setTimeout(r, 50))
    const change = await call(server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 4})
    expect(change.status).toBe(200)
    expect((await waitTask(server, upid)).exitstatus).toBe('OK')
    expect(server.vm(201)?.config.cores).toBe('4')
  })

  it('a config change while a snapshot is taken fails with VM is locked (snapshot)', async () => {
    const {server} = await lab({taskDurations: {...FAST_TASKS, qmsnapshot: 400}})
    await cloneTemplate(server, 201)
    const upid = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/201/snapshot', {snapname: 'before'}))
    await new Promise((r) => setTimeout(r, 100))
    const change = await call(server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2})
    expect([change.status, change.statusText]).toEqual([500, 'VM is locked (snapshot)'])
    const start = await runTask(server, 'POST', '/nodes/pve1/qemu/201/status/start')
    expect(start.exitstatus).toBe('VM is locked (snapshot)')
    expect((await waitTask(server, upid)).exitstatus).toBe('OK')
  })

  it('a clone cut off by a crash leaves lock: clone; after the restart changes fail with VM is locked (clone)', async () => {
    const first = await lab({taskDurations: {...FAST_TASKS, qmclone: 5000}})
    const upid = await ok<string>(call(first.server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: 'cp1', newid: 201}))
    await new Promise((r) => setTimeout(r, 100))
    await first.server.close({abort: true})

    const second = await lab({stateFile: first.stateFile})
    const change = await call(second.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2})
    expect([change.status, change.statusText]).toEqual([500, 'VM is locked (clone)'])
    const task = await ok<TaskStatus>(call(second.server, 'GET', `/nodes/pve1/tasks/${encodeURIComponent(upid)}/status`))
    expect(task).toMatchObject({exitstatus: 'unexpected status', status: 'stopped'})
    expect(first.backend.callsTo('clone')).toEqual([])
  })

  it('clones of one template queue for its lock; the one that waits too long fails with the lock timeout', async () => {
    const {server} = await lab({taskDurations: {...FAST_TASKS, qmclone: 1500}})
    const first = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 201}))
    const second = await ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 202}))
    expect((await waitTask(server, second)).exitstatus).toBe("can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout")
    expect(await taskLog(server, second)).toEqual(['trying to acquire lock...', "TASK ERROR: can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"])
    expect((await waitTask(server, first)).exitstatus).toBe('OK')
    expect(server.vm(202)).toBeUndefined()
  })

  it('by default two parallel clones pass, the second after waiting for the lock', async () => {
    const {server} = await lab({taskDurations: {}})
    const upids = await Promise.all([201, 202].map((newid) => ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid}))))
    const results = await Promise.all(upids.map((upid) => waitTask(server, upid)))
    expect(results.map((r) => r.exitstatus)).toEqual(['OK', 'OK'])
    const logs = await Promise.all(upids.map((upid) => taskLog(server, upid)))
    expect(logs.flat()).toContain('trying to acquire lock... OK')
  })

  it('with the shared lock of qemu-server 8.3, parallel clones do not wait', async () => {
    const {server} = await lab({faults: {cloneLock: {mode: 'shared'}}, taskDurations: {...FAST_TASKS, qmclone: 1500}})
    const upids = await Promise.all([201, 202, 203].map((newid) => ok<string>(call(server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid}))))
    const results = await Promise.all(upids.map((upid) => waitTask(server, upid)))
    expect(results.map((r) => r.exitstatus)).toEqual(['OK', 'OK', 'OK'])
  })
})

describe('failing tasks', () => {
  it('a task armed to fail ends with the given exit status and writes it to its log', async () => {
    const {backend, server} = await lab()
    await cloneTemplate(server, 201)
    server.setFaults({failTasks: [{message: 'start failed: QEMU exited with code 1', type: 'qmstart', vmid: 201}]})
    const failed = await runTask(server, 'POST', '/nodes/pve1/qemu/201/status/start')
    expect(failed.exitstatus).toBe('start failed: QEMU exited with code 1')
    expect((await taskLog(server, failed.upid)).at(-1)).toBe('TASK ERROR: start failed: QEMU exited with code 1')
    expect(backend.callsTo('start')).toEqual([])
    expect(server.vm(201)?.running).toBe(false)

    // Only once: the next start works.
    expect((await runTask(server, 'POST', '/nodes/pve1/qemu/201/status/start')).exitstatus).toBe('OK')
  })

  it('a failing clone removes its temporary config, as clone_vm does', async () => {
    const {server} = await lab()
    server.setFaults({failTasks: [{message: 'lvcreate failed: insufficient free space', type: 'qmclone'}]})
    const failed = await cloneTemplate(server, 201)
    expect(failed.exitstatus).toBe('clone failed: lvcreate failed: insufficient free space')
    expect((await taskLog(server, failed.upid)).at(-1)).toBe('TASK ERROR: clone failed: lvcreate failed: insufficient free space')
    const gone = await call(server, 'GET', '/nodes/pve1/qemu/201/config')
    expect(gone.statusText).toBe("Configuration file 'nodes/pve1/qemu-server/201.conf' does not exist")
  })

  it('a start of a VM that does not exist fails in the task, like vm_start', async () => {
    const {server} = await lab()
    const failed = await runTask(server, 'POST', '/nodes/pve1/qemu/555/status/start')
    expect(failed.exitstatus).toBe("Configuration file 'nodes/pve1/qemu-server/555.conf' does not exist")
  })
})
