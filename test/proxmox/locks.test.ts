/**
 * Lock conflicts as Proxmox produces them, seen through the adapter: a change to a VM while a
 * snapshot task holds it, and clones of one template started in parallel (why vm-seed serialises
 * them: the template's lock is taken with a 1 s timeout; a clone that fails on it did nothing and is made again).
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ProxmoxError} from '../../src/lib/proxmox/client.js'
import {type Client, connect, type Lab, NODE, rejection, startLab, TEMPLATE} from './helpers.js'

describe('Proxmox adapter: lock conflicts', () => {
  let lab: Lab
  let client: Client

  beforeAll(async () => {
    // Slow clones and snapshots, so that the conflicts have time to happen.
    lab = await startLab({taskDurations: {qmclone: 1500, qmconfig: 20, qmsnapshot: 1500, qmstart: 20}})
    client = connect(lab.server)
    await client.pve.clone(NODE, TEMPLATE, {full: false, name: 'locked', newid: 401})
  })

  afterAll(async () => {
    await client.pve.close()
    await lab.close()
  })

  it('a config change while a snapshot runs gets the real "VM is locked (snapshot)" error', async () => {
    const snapshot = client.pve.snapshot(NODE, 401, 'busy')
    await new Promise((resolve) => setTimeout(resolve, 200))
    const error = await rejection(client.pve.setConfig(NODE, 401, {cores: 4}))
    expect(error).toBeInstanceOf(ProxmoxError)
    expect(error.message).toContain('VM is locked (snapshot)')
    await snapshot
    await client.pve.setConfig(NODE, 401, {cores: 4})
  })

  it('three clones of one template at once: the ones that wait over 1 s fail on the lock timeout, did nothing, and are made again', async () => {
    const before = lab.server.requestLog.length
    const results = await Promise.allSettled([402, 403, 404].map((newid) => client.pve.clone(NODE, TEMPLATE, {full: true, name: `p${newid}`, newid, storage: 'local-lvm'})))
    expect(results.map((r) => (r.status === 'rejected' ? String((r.reason as Error).message) : r.status))).toEqual(['fulfilled', 'fulfilled', 'fulfilled'])
    for (const newid of [402, 403, 404]) expect(lab.server.vm(newid)?.config.name).toBe(`p${newid}`)
    const clonePosts = lab.server.requestLog.slice(before).filter((e) => e.method === 'POST' && e.route === '/nodes/{node}/qemu/{vmid}/clone')
    expect(clonePosts.length).toBeGreaterThan(3)
    const tasks = await client.pve.runningTasks(NODE)
    expect(tasks).toEqual([])
  })

  it('the same three clones one after another all succeed (what kp vm seed does)', async () => {
    for (const newid of [405, 406, 407]) {
      const result = await client.pve.clone(NODE, TEMPLATE, {full: true, name: `s${newid}`, newid, storage: 'local-lvm'})
      expect(result.exitstatus).toBe('OK')
    }
  })
})
