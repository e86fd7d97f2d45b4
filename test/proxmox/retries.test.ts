/**
 * Issue 12, 2.13: a flaky Proxmox API needed a `kp resume` per hiccup because no write was ever sent
 * again. Each call now declares what may happen after an unclear answer: writes that are safe to repeat
 * are retried (bounded, with backoff), a clone only after kp has shown none started, and Proxmox's own
 * lock timeout (which did nothing) is retried for any call. Against the lab's fake on loopback, with its
 * seeded error faults; the fake's request log counts what reached the server.
 */
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {ProxmoxError} from '../../src/lib/proxmox/client.js'
import {FAST_TASKS} from '../lab/proxmox/helpers.js'
import {type Client, connect, type Lab, NODE, rejection, seedFailingFirst, startLab, TEMPLATE} from './helpers.js'

const CLONE_ROUTE = '/nodes/{node}/qemu/{vmid}/clone'
const CONFIG_ROUTE = '/nodes/{node}/qemu/{vmid}/config'
const RESIZE_ROUTE = '/nodes/{node}/qemu/{vmid}/resize'
const START_ROUTE = '/nodes/{node}/qemu/{vmid}/status/start'
const PING_ROUTE = '/nodes/{node}/qemu/{vmid}/agent/ping'
const FAST_RETRY = {baseMs: 20, maxMs: 50, tries: 6}

/** Statuses of the requests to a route since `before` (a request log index). */
function answers(lab: Lab, method: string, route: string, before: number): number[] {
  return lab.server.requestLog.slice(before).filter((e) => e.method === method && e.route === route).map((e) => e.status)
}

describe('Proxmox adapter: retries of safe calls', () => {
  let lab: Lab
  let client: Client
  let nextId = 500

  async function freshVm(): Promise<number> {
    const vmid = nextId++
    await client.pve.clone(NODE, TEMPLATE, {full: false, name: `vm${vmid}`, newid: vmid})
    return vmid
  }

  beforeAll(async () => {
    lab = await startLab()
    client = connect(lab.server, {cloneRecoveryMs: 200, retry: FAST_RETRY})
  })
  afterEach(() => lab.server.setFaults({}))
  afterAll(async () => {
    await client.pve.close()
    await lab.close()
  })

  it('retries a config POST that carries its digest through 503s, and it applies once', async () => {
    const vmid = await freshVm()
    const {digest} = await client.pve.vmConfig(NODE, vmid)
    lab.server.setFaults({errors: [{method: 'POST', path: CONFIG_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(2, 0.5)})
    const before = lab.server.requestLog.length
    await client.pve.setConfig(NODE, vmid, {cores: 3, memory: 3072}, {digest})
    expect(answers(lab, 'POST', CONFIG_ROUTE, before)).toEqual([503, 503, 200])
    expect(lab.server.vm(vmid)?.config).toMatchObject({cores: '3', memory: '3072'})
  })

  it('a digest POST whose first answer was lost after it applied: the retry is refused, and kp sees its change made', async () => {
    const vmid = await freshVm()
    const {digest} = await client.pve.vmConfig(NODE, vmid)
    lab.server.setFaults({errors: [{after: true, method: 'POST', path: CONFIG_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(1, 0.5)})
    const before = lab.server.requestLog.length
    await client.pve.setConfig(NODE, vmid, {cores: 4, net0: 'virtio,bridge=vmbr0,tag=20'}, {digest})
    const posts = lab.server.requestLog.slice(before).filter((e) => e.method === 'POST' && e.route === CONFIG_ROUTE)
    expect(posts.map((e) => e.status)).toEqual([503, 500])
    expect(posts[1]?.statusText).toMatch(/checksum missmatch|detected modified configuration/)
    expect(lab.server.vm(vmid)?.config).toMatchObject({cores: '4'})
  })

  it('a digest POST refused for a change someone else made is not taken for ours', async () => {
    const vmid = await freshVm()
    const {digest} = await client.pve.vmConfig(NODE, vmid)
    await client.pve.setConfig(NODE, vmid, {description: 'changed by someone else'})
    lab.server.setFaults({errors: [{method: 'POST', path: CONFIG_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(1, 0.5)})
    const error = await rejection(client.pve.setConfig(NODE, vmid, {cores: 5}, {digest}))
    expect(error.message).toMatch(/checksum missmatch|detected modified configuration/)
    expect(lab.server.vm(vmid)?.config.cores).not.toBe('5')
  })

  it('never sends a config POST without digest twice', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{method: 'POST', path: CONFIG_ROUTE, rate: 1, status: 503}]})
    const before = lab.server.requestLog.length
    const error = await rejection(client.pve.setConfig(NODE, vmid, {cores: 2}))
    expect(error).toMatchObject({status: 503})
    expect(answers(lab, 'POST', CONFIG_ROUTE, before)).toEqual([503])
  })

  it('retries a resize to an absolute size, never a relative one', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{method: 'PUT', path: RESIZE_ROUTE, rate: 0.5, status: 502}], seed: seedFailingFirst(2, 0.5)})
    let before = lab.server.requestLog.length
    await client.pve.resize(NODE, vmid, 'scsi0', '12G')
    expect(answers(lab, 'PUT', RESIZE_ROUTE, before)).toEqual([502, 502, 200])
    expect(lab.server.vm(vmid)?.config.scsi0).toContain('size=12G')

    lab.server.setFaults({errors: [{method: 'PUT', path: RESIZE_ROUTE, rate: 1, status: 502}]})
    before = lab.server.requestLog.length
    await rejection(client.pve.resize(NODE, vmid, 'scsi0', '+1G'))
    expect(answers(lab, 'PUT', RESIZE_ROUTE, before)).toEqual([502])
  })

  it('retries the guest agent ping', async () => {
    const vmid = await freshVm()
    await client.pve.start(NODE, vmid)
    lab.server.setFaults({errors: [{method: 'POST', path: PING_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(2, 0.5)})
    const before = lab.server.requestLog.length
    expect(await client.pve.agentPing(NODE, vmid)).toBe(true)
    expect(answers(lab, 'POST', PING_ROUTE, before)).toEqual([503, 503, 200])
  })

  it("retries any call that Proxmox refused with its lock timeout (it did nothing), even a start", async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{lockContention: true, method: 'POST', path: START_ROUTE, rate: 0.5}], seed: seedFailingFirst(2, 0.5)})
    const before = lab.server.requestLog.length
    await client.pve.start(NODE, vmid)
    const starts = lab.server.requestLog.slice(before).filter((e) => e.route === START_ROUTE)
    expect(starts.map((e) => `${e.status} ${e.statusText}`)).toEqual([
      `500 can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`,
      `500 can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`,
      '200 OK',
    ])
    expect(lab.server.vm(vmid)?.running).toBe(true)
  })

  it('sends a start again after a 503 only once it has seen the VM still stopped', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{method: 'POST', path: START_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(2, 0.5)})
    const before = lab.server.requestLog.length
    await client.pve.start(NODE, vmid)
    expect(answers(lab, 'POST', START_ROUTE, before)).toEqual([503, 503, 200])
    expect(lab.server.requestLog.slice(before).filter((e) => e.route === '/nodes/{node}/qemu/{vmid}/status/current')).toHaveLength(2)
    expect(lab.server.vm(vmid)?.running).toBe(true)
  })

  it('never starts twice when the 503 came after the start: it sees the VM running', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{after: true, method: 'POST', path: START_ROUTE, rate: 1, status: 503}]})
    const before = lab.server.requestLog.length
    await client.pve.start(NODE, vmid)
    expect(answers(lab, 'POST', START_ROUTE, before)).toEqual([503])
    expect(lab.server.vm(vmid)?.running).toBe(true)
  })

  it('gives up on a start that keeps failing, within the bounded tries', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({errors: [{method: 'POST', path: START_ROUTE, rate: 1, status: 503}]})
    const before = lab.server.requestLog.length
    await rejection(client.pve.start(NODE, vmid))
    expect(answers(lab, 'POST', START_ROUTE, before)).toEqual(Array.from({length: FAST_RETRY.tries}, () => 503))
    expect(lab.server.vm(vmid)?.running).toBe(false)
  })

  it('clones again after a 503 once it has shown the clone did not start: one clone task, one VM', async () => {
    lab.server.setFaults({errors: [{method: 'POST', path: CLONE_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(1, 0.5)})
    const before = lab.server.requestLog.length
    const result = await client.pve.clone(NODE, TEMPLATE, {full: false, name: 'vm590', newid: 590})
    expect(result.exitstatus).toBe('OK')
    expect(answers(lab, 'POST', CLONE_ROUTE, before)).toEqual([503, 200])
    // Before cloning again it looked for the VM, then for clone tasks running or started since the POST.
    const looks = lab.server.requestLog.slice(before).filter((e) => e.method === 'GET').map((e) => e.route)
    expect(looks.indexOf('/nodes/{node}/qemu/{vmid}/config')).toBeLessThan(looks.indexOf('/nodes/{node}/tasks'))
    expect(lab.server.vm(590)?.config).toMatchObject({name: 'vm590'})
  })

  it('never clones twice when the 503 came after the clone started: it waits for that clone', async () => {
    lab.server.setFaults({errors: [{after: true, method: 'POST', path: CLONE_ROUTE, rate: 0.5, status: 503}], seed: seedFailingFirst(1, 0.5)})
    const before = lab.server.requestLog.length
    const result = await client.pve.clone(NODE, TEMPLATE, {full: false, name: 'vm591', newid: 591})
    expect(result.exitstatus).toBe('OK')
    // One POST reached the server and was carried out (the fault replaced only its answer): one clone task.
    expect(answers(lab, 'POST', CLONE_ROUTE, before)).toEqual([503])
    expect(await client.pve.runningTasks(NODE)).toEqual([])
    expect(lab.server.vm(591)?.config).toMatchObject({name: 'vm591'})
  })
})

describe('Proxmox adapter: clones of one template that meet its lock', () => {
  let lab: Lab
  beforeAll(async () => {
    // Clones hold the template's lock for the whole copy; one waiting longer than 100 ms fails, as qemu-server's do.
    lab = await startLab({faults: {cloneLock: {mode: 'exclusive', timeoutMs: 100}}, taskDurations: {...FAST_TASKS, qmclone: 2500}})
  })
  afterAll(() => lab.close())

  it("makes a clone that failed on the template's lock again, within the bounded tries, then gives up with Proxmox's message", async () => {
    const {pve} = connect(lab.server, {retry: {baseMs: 10, maxMs: 10, tries: 2}})
    const slow = pve.clone(NODE, TEMPLATE, {full: false, name: 'vm611', newid: 611})
    await new Promise((resolve) => setTimeout(resolve, 200))
    const before = lab.server.requestLog.length
    const error = await rejection(pve.clone(NODE, TEMPLATE, {full: false, name: 'vm612', newid: 612}))
    expect(lab.server.requestLog.slice(before).filter((e) => e.method === 'POST' && e.route === CLONE_ROUTE)).toHaveLength(2)
    expect(lab.server.vm(612)).toBeUndefined()
    expect(error).toBeInstanceOf(ProxmoxError)
    expect(error.message).toContain("can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout")
    await slow
    await pve.close()
  })
})
