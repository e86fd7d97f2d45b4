import {request} from 'node:https'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ALL_PRIVILEGES} from '../../../src/lib/lab/proxmox/index.js'
import {call, cloneTemplate, SSH_KEY, sshkeysParam, startLab, type TestLab, TOKEN} from './helpers.js'

const AUDITOR = {id: 'audit@pve!ro', secret: 'b1f2c3d4-0000-4000-8000-000000000001'}
const CPU_ONLY = {id: 'kp@pve!cpu', secret: 'b1f2c3d4-0000-4000-8000-000000000002'}
const NOT_ON_201 = {id: 'kp@pve!scoped', secret: 'b1f2c3d4-0000-4000-8000-000000000003'}
const header = (t: {id: string; secret: string}) => `PVEAPIToken=${t.id}=${t.secret}`

describe('authentication, permissions and parameter errors', () => {
  let lab: TestLab
  beforeAll(async () => {
    lab = await startLab({
      tokens: [
        TOKEN,
        {...AUDITOR, privileges: ['VM.Audit', 'Sys.Audit', 'Datastore.Audit']},
        {...CPU_ONLY, privileges: ['VM.Audit', 'VM.Config.CPU']},
        // Everything, except that on /vms/201 only auditing is allowed: the most specific path wins.
        {...NOT_ON_201, privileges: {'/': [...ALL_PRIVILEGES], '/vms/201': ['VM.Audit']}},
      ],
    })
    await cloneTemplate(lab.server, 201)
  })
  afterAll(() => lab.server.close())

  it('serves HTTPS with a certificate the pinned CA verifies, fingerprint in Proxmox form', async () => {
    expect(lab.server.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
    expect(lab.server.caPem).toContain('BEGIN CERTIFICATE')
    const unpinned = new Promise<string>((resolve) => {
      request({host: lab.server.host, path: '/api2/json/version', port: lab.server.port}, () => resolve('connected'))
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message))
        .end()
    })
    // Like pveproxy, the server sends only the node certificate: without the CA nothing verifies it.
    await expect(unpinned).resolves.toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  })

  it('answers 401 No ticket without credentials', async () => {
    const answer = await call(lab.server, 'GET', '/version', {}, {authorization: null})
    expect([answer.status, answer.statusText, answer.raw]).toEqual([401, 'No ticket', ''])
  })

  it('answers 401 authentication failure for a wrong secret or an unknown token', async () => {
    const wrong = await call(lab.server, 'GET', '/version', {}, {authorization: `PVEAPIToken=${TOKEN.id}=00000000-0000-0000-0000-000000000000`})
    expect([wrong.status, wrong.statusText]).toEqual([401, 'authentication failure'])
    const unknown = await call(lab.server, 'GET', '/version', {}, {authorization: `PVEAPIToken=root@pam!nope=${TOKEN.secret}`})
    expect([unknown.status, unknown.statusText]).toEqual([401, 'authentication failure'])
  })

  it('answers with the {data} envelope and the real content type', async () => {
    const answer = await call(lab.server, 'GET', '/version')
    expect(answer.status).toBe(200)
    expect(answer.headers['content-type']).toBe('application/json;charset=UTF-8')
    expect(answer.body).toEqual({data: {release: '8.3', repoid: expect.stringMatching(/^[0-9a-f]{16}$/) as unknown, version: '8.3.0'}})
  })

  it('answers 403 when a token lacks the privilege the method checks', async () => {
    const answer = await call(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start', {}, {authorization: header(AUDITOR)})
    expect([answer.status, answer.statusText]).toEqual([403, 'Permission check failed (/vms/201, VM.PowerMgmt)'])
    expect(answer.body).toEqual({data: null})
    const config = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2}, {authorization: header(AUDITOR)})
    expect(config.status).toBe(403)
    expect(config.statusText).toBe(
      'Permission check failed (/vms/201, VM.Config.Disk|VM.Config.CDROM|VM.Config.CPU|VM.Config.Memory|VM.Config.Network|VM.Config.HWType|VM.Config.Options|VM.Config.Cloudinit)',
    )
  })

  it('answers 403 for one option the token may not set (check_vm_modify_config_perm)', async () => {
    expect((await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 2}, {authorization: header(CPU_ONLY)})).status).toBe(200)
    const answer = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {sshkeys: sshkeysParam([SSH_KEY])}, {authorization: header(CPU_ONLY)})
    expect([answer.status, answer.statusText]).toEqual([403, 'Permission check failed (/vms/201, VM.Config.Cloudinit|VM.Config.Network)'])
    const net = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {net0: 'virtio,bridge=vmbr0'}, {authorization: header(CPU_ONLY)})
    expect(net.statusText).toBe('Permission check failed (/vms/201, VM.Config.Network)')
  })

  it('takes the most specific ACL path', async () => {
    const clone = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 202}, {authorization: header(NOT_ON_201)})
    expect(clone.status).toBe(200)
    const denied = await call(lab.server, 'POST', '/nodes/pve1/qemu/201/snapshot', {snapname: 'pre'}, {authorization: header(NOT_ON_201)})
    expect(denied.statusText).toBe('Permission check failed (/vms/201, VM.Snapshot)')
    await lab.server.waitForTasks()
  })

  it('lists what a token may do', async () => {
    const answer = await call(lab.server, 'GET', '/access/permissions', {}, {authorization: header(CPU_ONLY)})
    expect(answer.body).toEqual({data: {'/': {'VM.Audit': 1, 'VM.Config.CPU': 1}}})
  })

  it('answers 400 Parameter verification failed with an errors object', async () => {
    const answer = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {
      cores: 'abc',
      net0: 'virtio,bridge=vmbr0,tag=5000',
      sshkeys: SSH_KEY,
    })
    expect(answer.status).toBe(400)
    expect(answer.statusText).toBe('Parameter verification failed.')
    expect(answer.body).toEqual({
      data: null,
      errors: {
        cores: "type check ('integer') failed - got 'abc'",
        net0: 'invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n',
        sshkeys: `invalid format - invalid urlencoded string: ${SSH_KEY}\n`,
      },
    })
  })

  it('refuses a percent-encoded value that is not an SSH key', async () => {
    const answer = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {sshkeys: sshkeysParam(['not a key'])})
    expect([answer.status, answer.statusText]).toEqual([500, 'SSH public key validation error'])
  })

  it('takes JSON bodies too, as pve-http-server does', async () => {
    const answer = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {description: 'from json', onboot: true}, {json: true})
    expect(answer.status).toBe(200)
    expect(lab.server.vm(201)?.config).toMatchObject({description: 'from json', onboot: '1'})
  })

  it('answers 501 for a method the path does not have', async () => {
    const answer = await call(lab.server, 'GET', '/nodes/pve1/qemu/201/agent/ping')
    expect([answer.status, answer.statusText]).toEqual([501, "Method 'GET /api2/json/nodes/pve1/qemu/201/agent/ping' not implemented"])
  })
})
