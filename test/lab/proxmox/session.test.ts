import {readFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkRequestLog, type RequestLogEntry} from '../../../src/lib/lab/proxmox/index.js'
import {call, ok, runTask, SSH_KEY, sshkeysParam, startLab, type TestLab, TOKEN} from './helpers.js'

describe('a whole seeding and maintenance session', () => {
  let lab: TestLab
  beforeAll(async () => {
    lab = await startLab()
  })
  afterAll(() => lab.server.close())

  it('clone → config → resize → start → agent → snapshot → rollback → stop → delete, all as the schema allows', async () => {
    const {server} = lab
    const newid = await ok<string>(call(server, 'GET', '/cluster/nextid'))
    expect(newid).toBe('100')
    const steps: Array<[string, string, Record<string, string | number>]> = [
      ['POST', '/nodes/pve1/qemu/9000/clone', {full: 0, name: 'k8s-cp-1', newid: 201}],
      ['POST', '/nodes/pve1/qemu/201/config', {
        agent: 'enabled=1', ciuser: 'kp', cores: 2, ipconfig0: 'ip=10.77.0.11/24,gw=10.77.0.1', memory: 4096,
        nameserver: '10.77.0.1', net0: 'virtio,bridge=vmbr0,tag=20', searchdomain: 'lab.internal',
        sshkeys: sshkeysParam([SSH_KEY]), tags: 'k8s;control-plane',
      }],
      ['PUT', '/nodes/pve1/qemu/201/resize', {disk: 'scsi0', size: '32G'}],
      ['POST', '/nodes/pve1/qemu/201/status/start', {}],
    ]
    for (const [method, apiPath, params] of steps) expect((await runTask(server, method, apiPath, params)).exitstatus).toBe('OK')

    expect(await ok(call(server, 'POST', '/nodes/pve1/qemu/201/agent/ping'))).toEqual({result: {}})
    await ok(call(server, 'GET', '/nodes/pve1/qemu/201/agent/network-get-interfaces'))
    await ok(call(server, 'GET', '/nodes/pve1/qemu/201/agent/file-read', {file: '/etc/ssh/ssh_host_ed25519_key.pub'}))
    await ok(call(server, 'GET', '/nodes/pve1/qemu/201/status/current'))
    await ok(call(server, 'GET', '/cluster/resources', {type: 'vm'}))

    const later: Array<[string, string, Record<string, string | number>]> = [
      ['POST', '/nodes/pve1/qemu/201/snapshot', {description: 'before patching', snapname: 'kp-pre-patch', vmstate: 0}],
      ['POST', '/nodes/pve1/qemu/201/snapshot/kp-pre-patch/rollback', {start: 1}],
      ['POST', '/nodes/pve1/qemu/201/status/shutdown', {forceStop: 1, timeout: 60}],
      ['DELETE', '/nodes/pve1/qemu/201/snapshot/kp-pre-patch', {}],
      ['DELETE', '/nodes/pve1/qemu/201', {'destroy-unreferenced-disks': 1, purge: 1}],
    ]
    for (const [method, apiPath, params] of later) expect((await runTask(server, method, apiPath, params)).exitstatus).toBe('OK')

    expect(server.requestLog.length).toBeGreaterThan(20)
    expect(checkRequestLog(server.requestLog)).toEqual([])
    expect(lab.backend.calls.map((c) => c.method).filter((m) => !m.startsWith('agent'))).toEqual([
      'clone', 'resize', 'start', 'snapshot', 'stop', 'snapshotRollback', 'start', 'shutdown', 'snapshotDelete', 'destroy',
    ])
  })

  it('never records the token secret, and appends the same entries to a JSON-lines file', () => {
    expect(JSON.stringify(lab.server.requestLog)).not.toContain(TOKEN.secret)
    const lines = readFileSync(path.join(lab.dir, 'proxmox-requests.jsonl'), 'utf8').trim().split('\n')
    expect(lines.map((line) => JSON.parse(line) as RequestLogEntry)).toEqual(lab.server.requestLog)
    expect(lab.server.requestLog[0]).toMatchObject({method: 'GET', params: {}, path: '/api2/json/cluster/nextid', route: '/cluster/nextid', status: 200, tokenId: TOKEN.id})
  })

  it('lets a test assert that a run made no write call', async () => {
    const from = lab.server.requestLog.length
    await ok(call(lab.server, 'GET', '/cluster/resources', {type: 'vm'}))
    await ok(call(lab.server, 'GET', '/nodes/pve1/qemu/9000/config'))
    const writes = lab.server.requestLog.slice(from).filter((e) => e.method !== 'GET')
    expect(writes).toEqual([])
  })

  it('flags the requests the real API would reject', async () => {
    const from = lab.server.requestLog.length
    const answer = await call(lab.server, 'PUT', '/nodes/pve1/qemu/9000/config', {cores: 'two'})
    expect(answer.status).toBe(400)
    const problems = checkRequestLog(lab.server.requestLog.slice(from))
    expect(problems).toEqual([expect.objectContaining({errors: {cores: "type check ('integer') failed - got 'two'"}, problem: 'parameters rejected'})])

  })
})
