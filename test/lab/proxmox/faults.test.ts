import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {call, startLab, type TestLab} from './helpers.js'

describe('faults', () => {
  let lab: TestLab
  beforeAll(async () => {
    lab = await startLab()
  })
  afterAll(() => lab.server.close())

  it('adds latency to the matching routes only, as the request log shows', async () => {
    lab.server.setFaults({latency: [{ms: 150, path: '/nodes/{node}/qemu/{vmid}/config'}, {ms: [40, 60], path: '/version'}]})
    await call(lab.server, 'GET', '/nodes/pve1/qemu/9000/config')
    await call(lab.server, 'GET', '/version')
    await call(lab.server, 'GET', '/nodes')
    const [config, version, nodes] = lab.server.requestLog.slice(-3)
    expect(config).toMatchObject({latencyMs: 150, path: '/api2/json/nodes/pve1/qemu/9000/config', status: 200})
    expect(config?.durationMs).toBeGreaterThanOrEqual(150)
    expect(version?.latencyMs).toBeGreaterThanOrEqual(40)
    expect(version?.latencyMs).toBeLessThanOrEqual(60)
    expect(version?.durationMs).toBeGreaterThanOrEqual(version?.latencyMs ?? Infinity)
    expect(nodes?.latencyMs).toBe(0)
    lab.server.setFaults({})
  })

  it('fails a seeded share of matching requests, the same way for the same seed', async () => {
    const run = async () => {
      lab.server.setFaults({errors: [{path: '/cluster/resources', rate: 0.4, status: 503}], seed: 42})
      const statuses: string[] = []
      for (let i = 0; i < 25; i++) {
        const answer = await call(lab.server, 'GET', '/cluster/resources', {type: 'vm'})
        statuses.push(`${answer.status} ${answer.statusText}`)
      }
      return statuses
    }
    const first = await run()
    const second = await run()
    expect(second).toEqual(first)
    expect(first).toContain('200 OK')
    expect(first).toContain('503 Service Unavailable')
    // Other routes are untouched.
    expect((await call(lab.server, 'GET', '/version')).status).toBe(200)
    lab.server.setFaults({errors: [{method: 'POST', rate: 1}]})
    const post = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 300})
    expect([post.status, post.statusText, post.raw]).toEqual([500, 'Internal Server Error', '{"data":null}'])
    expect(lab.server.vm(300)).toBeUndefined()
    lab.server.setFaults({})
  })

  it("answers as the real server does: pveproxy's own 5xx without a body, a handler's 500 with {data: null}", async () => {
    lab.server.setFaults({errors: [{path: '/version', rate: 1, status: 503}]})
    expect(await call(lab.server, 'GET', '/version')).toMatchObject({raw: '', status: 503, statusText: 'Service Unavailable'})
    lab.server.setFaults({errors: [{path: '/version', rate: 1, status: 596, message: 'Connection timed out'}]})
    expect(await call(lab.server, 'GET', '/version')).toMatchObject({raw: '', status: 596, statusText: 'Connection timed out'})
    lab.server.setFaults({})
  })

  it("refuses calls about a VM with Proxmox's lock timeout, naming that VM's lock file, and does nothing", async () => {
    lab.server.setFaults({errors: [{lockContention: true, rate: 1}]})
    const answer = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 301})
    expect([answer.status, answer.statusText, answer.raw]).toEqual([500, "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout", '{"data":null}'])
    expect(lab.server.vm(301)).toBeUndefined()
    // Calls that are not about a VM are not affected.
    expect((await call(lab.server, 'GET', '/version')).status).toBe(200)
    lab.server.setFaults({})
  })

  it('with `after`, carries the request out and loses only its answer, as behind a gateway', async () => {
    lab.server.setFaults({errors: [{after: true, method: 'POST', rate: 1, status: 503}]})
    const answer = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {name: 'after', newid: 302})
    expect([answer.status, answer.raw]).toEqual([503, ''])
    lab.server.setFaults({})
    await lab.server.waitForTasks()
    expect(lab.server.vm(302)?.config.name).toBe('after')
  })
})
