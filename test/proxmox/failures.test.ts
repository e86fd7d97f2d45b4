import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'

import {InterruptedError} from '../../src/lib/errors.js'
import {ProxmoxError, ProxmoxTaskError} from '../../src/lib/proxmox/client.js'
import {DEFAULT_RETRY} from '../../src/lib/proxmox/transport.js'
import {type Client, connect, type Lab, NODE, rejection, requests, seedFailingFirst, startLab, TEMPLATE, TOKEN} from './helpers.js'

const CLONE_ROUTE = '/nodes/{node}/qemu/{vmid}/clone'

describe('Proxmox adapter: failures', () => {
  let lab: Lab
  let client: Client
  let nextId = 300
  const errors: Error[] = []

  /** A stopped clone of the template with the guest agent on. */
  async function freshVm(): Promise<number> {
    const vmid = nextId++
    await client.pve.clone(NODE, TEMPLATE, {full: false, name: `vm${vmid}`, newid: vmid})
    return vmid
  }

  async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
    const error = await rejection(promise)
    errors.push(error)
    return error
  }

  beforeAll(async () => {
    lab = await startLab()
    client = connect(lab.server, {cloneRecoveryMs: 300})
  })
  afterEach(() => lab.server.setFaults({}))
  afterAll(async () => {
    // The token secret is in no error and no log line of this whole file.
    const text = [...errors.map((e) => `${e.message} ${String((e as {hint?: string}).hint)}`), ...client.logs].join('\n')
    expect(text).not.toContain(TOKEN.secret)
    await client.pve.close()
    await lab.close()
  })

  it('surfaces a failed task with its type, VM, exit status and log tail', async () => {
    const vmid = await freshVm()
    lab.server.setFaults({failTasks: [{message: 'start failed: QEMU exited with code 1', type: 'qmstart'}]})
    const error = await failure(client.pve.start(NODE, vmid))
    expect(error).toBeInstanceOf(ProxmoxTaskError)
    expect(error).toMatchObject({exitCode: 1, exitstatus: 'start failed: QEMU exited with code 1', kind: 'proxmox', taskType: 'qmstart'})
    expect(error.message).toContain(`qmstart of VM ${vmid} failed: start failed: QEMU exited with code 1`)
    expect(error.message).toContain('TASK ERROR: start failed: QEMU exited with code 1')
    expect((error.logTail as string[]).length).toBeLessThanOrEqual(10)
  })

  it('reports a failed clone as the clone task failing', async () => {
    lab.server.setFaults({failTasks: [{message: 'storage is full', type: 'qmclone'}]})
    const error = await failure(client.pve.clone(NODE, TEMPLATE, {full: true, name: 'vm-full', newid: 399}))
    expect(error).toBeInstanceOf(ProxmoxTaskError)
    expect(error.message).toContain(`qmclone of VM ${TEMPLATE} failed: clone failed: storage is full`)
  })

  it('retries a GET through a burst of 5xx answers', async () => {
    lab.server.setFaults({errors: [{path: '/version', rate: 0.5, status: 503}], seed: seedFailingFirst(2, 0.5)})
    const before = requests(lab.server, 'GET', '/version').length
    await expect(client.pve.version()).resolves.toMatchObject({version: '8.3.0'})
    const answers = requests(lab.server, 'GET', '/version').slice(before).map((e) => e.status)
    expect(answers).toEqual([503, 503, 200])
  })

  it('gives up on a GET after the bounded number of tries', async () => {
    const {pve} = connect(lab.server, {retry: {baseMs: 10, maxMs: 20}})
    lab.server.setFaults({errors: [{path: '/version', rate: 1}]})
    const before = requests(lab.server, 'GET', '/version').length
    const error = await failure(pve.version())
    expect(error.message).toBe('GET /version: 500 Internal Server Error')
    expect(requests(lab.server, 'GET', '/version').length - before).toBe(DEFAULT_RETRY.tries)
    await pve.close()
  })

  it('does not retry a clear refusal, even on a GET', async () => {
    const before = lab.server.requestLog.length
    const error = await failure(client.pve.vmConfig(NODE, 999))
    expect(error.message).toMatch(/500 Configuration file .*999\.conf' does not exist/)
    expect(lab.server.requestLog.length - before).toBe(1)
  })

  it('never retries a POST that is not safe to repeat (a stop)', async () => {
    const vmid = await freshVm()
    const stopRoute = '/nodes/{node}/qemu/{vmid}/status/stop'
    lab.server.setFaults({errors: [{method: 'POST', path: stopRoute, rate: 1, status: 503}]})
    const before = requests(lab.server, 'POST', stopRoute).length
    const error = await failure(client.pve.stop(NODE, vmid))
    expect(error).toMatchObject({status: 503})
    expect(requests(lab.server, 'POST', stopRoute).length - before).toBe(1)
  })

  it('after failed clone POSTs, looks for the clone each time, clones again only when none started, and gives up after the bounded tries', async () => {
    const {pve} = connect(lab.server, {cloneRecoveryMs: 100, retry: {baseMs: 10, maxMs: 20, tries: 3}})
    lab.server.setFaults({errors: [{method: 'POST', path: CLONE_ROUTE, rate: 1}]})
    const before = requests(lab.server, 'POST', CLONE_ROUTE).length
    const error = await failure(pve.clone(NODE, TEMPLATE, {full: false, name: 'vm390', newid: 390}))
    expect(error.message).toContain('500 Internal Server Error')
    expect(error.message).toContain('no clone of template 9000 to VM 390 was started (3 tries)')
    expect(requests(lab.server, 'POST', CLONE_ROUTE).length - before).toBe(3)
    expect(requests(lab.server, 'GET', '/nodes/{node}/tasks').length).toBeGreaterThan(0)
    expect(lab.server.vm(390)).toBeUndefined()
    await pve.close()
  })

  it('after a clone POST timed out while the clone went ahead, waits for that clone', async () => {
    // The answer comes after the client gave up; the server clones anyway, as pveproxy would.
    const {pve} = connect(lab.server, {requestTimeoutMs: 250})
    lab.server.setFaults({latency: [{method: 'POST', ms: 600, path: CLONE_ROUTE}]})
    const before = requests(lab.server, 'POST', CLONE_ROUTE).length
    const result = await pve.clone(NODE, TEMPLATE, {full: false, name: 'vm391', newid: 391})
    expect(result.exitstatus).toBe('OK')
    expect(result.upid).toMatch(/:qmclone:9000:/)
    expect(requests(lab.server, 'POST', CLONE_ROUTE).length - before).toBe(1)
    expect(lab.server.vm(391)?.config).toMatchObject({name: 'vm391'})
    expect(lab.server.vm(391)?.config.lock).toBeUndefined()
    await pve.close()
  })

  it('answers false from agentPing while the agent or the VM is down, and throws when no agent is configured', async () => {
    const vmid = await freshVm()
    expect(await client.pve.agentPing(NODE, vmid)).toBe(false)
    await client.pve.start(NODE, vmid)
    lab.server.setFaults({agentDown: [vmid]})
    expect(await client.pve.agentPing(NODE, vmid)).toBe(false)
    lab.server.setFaults({})
    expect(await client.pve.agentPing(NODE, vmid)).toBe(true)
    await client.pve.stop(NODE, vmid)
    await client.pve.setConfig(NODE, vmid, {agent: 0})
    const error = await failure(client.pve.agentPing(NODE, vmid))
    expect(error.message).toContain('No QEMU guest agent configured')
  })

  it('shows the parameter errors of a 400', async () => {
    const vmid = await freshVm()
    const error = await failure(client.pve.setConfig(NODE, vmid, {net0: 'virtio,bridge=vmbr0,tag=5000'}))
    expect(error).toBeInstanceOf(ProxmoxError)
    expect(error.message).toMatch(/^POST \/nodes\/pve1\/qemu\/\d+\/config: 400 Parameter verification failed\.: net0: .* net0\.tag: value must have a maximum value of 4094$/)
  })

  it('stops a request at once when the signal aborts', async () => {
    const controller = new AbortController()
    const {pve} = connect(lab.server, {signal: controller.signal})
    lab.server.setFaults({latency: [{ms: 5000, path: '/version'}]})
    const started = Date.now()
    setTimeout(() => controller.abort(), 50)
    const error = await failure(pve.version())
    expect(error).toBeInstanceOf(InterruptedError)
    expect(Date.now() - started).toBeLessThan(2000)
    await pve.close()
  })
})

describe('Proxmox adapter: slow tasks', () => {
  let lab: Lab
  beforeAll(async () => {
    lab = await startLab({taskDurations: {qmclone: 40, qmstart: 3000}})
  })
  afterAll(() => lab.close())

  it('stops waiting on a task after the task timeout, and says the task goes on', async () => {
    const {pve} = connect(lab.server, {taskTimeoutMs: 300})
    await pve.clone(NODE, TEMPLATE, {full: false, name: 'slow', newid: 250})
    const error = await rejection(pve.start(NODE, 250))
    expect(error).toBeInstanceOf(ProxmoxError)
    expect(error.message).toMatch(/^task qmstart of VM 250 still running after 0.3 s/)
    expect(error.hint).toContain('the task goes on')
    await pve.close()
  })
})
