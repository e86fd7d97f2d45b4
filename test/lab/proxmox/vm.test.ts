import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import type {VmSpec} from '../../../src/lib/lab/backend.js'
import {call, cloneTemplate, ok, runTask, SSH_KEY, sshkeysParam, startLab, taskLog, type TestLab} from './helpers.js'

let lab: TestLab
beforeEach(async () => {
  lab = await startLab()
})
afterEach(() => lab.server.close())

const NODE_CONFIG = {
  ciuser: 'kp',
  cores: 2,
  ipconfig0: 'ip=10.77.0.11/24,gw=10.77.0.1',
  memory: 4096,
  name: 'cp-1',
  nameserver: '10.77.0.1 1.1.1.1',
  net0: 'virtio,bridge=vmbr0,tag=20',
  searchdomain: 'lab.internal',
  sshkeys: sshkeysParam([SSH_KEY]),
  tags: 'k8s;control-plane',
}

async function seeded(vmid = 201, config: Record<string, string | number> = NODE_CONFIG): Promise<void> {
  await cloneTemplate(lab.server, vmid)
  await ok(call(lab.server, 'PUT', `/nodes/pve1/qemu/${vmid}/config`, config))
}

describe('config', () => {
  it('stores a NIC with a generated Proxmox MAC and returns typed values with a digest', async () => {
    await seeded()
    const config = await ok<Record<string, unknown>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config'))
    expect(config.net0).toMatch(/^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0,tag=20$/)
    expect(config).toMatchObject({cores: 2, ciuser: 'kp', memory: '4096', name: 'cp-1', sshkeys: sshkeysParam([SSH_KEY]), tags: 'k8s;control-plane'})
    expect(config.digest).toMatch(/^[0-9a-f]{40}$/)
    expect(config.template).toBeUndefined()
  })

  it('refuses a change when the digest no longer matches', async () => {
    await seeded()
    const {digest} = await ok<{digest: string}>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config'))
    await ok(call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 3, digest}))
    const stale = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 4, digest})
    expect([stale.status, stale.statusText]).toEqual([500, 'checksum missmatch (file change by other user?)'])
  })

  it('POST is asynchronous and logs the change; delete removes options', async () => {
    await seeded()
    const task = await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/config', {delete: 'tags', description: 'control plane'})
    expect(task).toMatchObject({exitstatus: 'OK', type: 'qmconfig'})
    expect((await taskLog(lab.server, task.upid))[0]).toBe('update VM 201: -delete tags -description control plane')
    const config = await ok<Record<string, unknown>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config'))
    expect(config.tags).toBeUndefined()
    expect(config.description).toBe('control plane')
    const unknown = await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {delete: 'nonsense'})
    expect(unknown.body).toEqual({data: null, errors: {delete: "unknown option 'nonsense'"}})
    expect((await call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {})).statusText).toBe('no options specified')
    // background_delay: wait for the task and answer null when it finished in time.
    expect(await ok(call(lab.server, 'POST', '/nodes/pve1/qemu/201/config', {background_delay: 5, onboot: 1}))).toBeNull()
  })

  it('shows cloud-init changes of a running VM until the drive is regenerated', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    await ok(call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {ciuser: 'ops'}))
    const before = await ok<Array<Record<string, unknown>>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/cloudinit'))
    expect(before).toContainEqual({key: 'ciuser', pending: 'ops', value: 'kp'})
    await ok(call(lab.server, 'PUT', '/nodes/pve1/qemu/201/cloudinit'))
    const after = await ok<Array<Record<string, unknown>>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/cloudinit'))
    expect(after).toContainEqual({key: 'ciuser', value: 'ops'})
  })

  it('keeps changes to a running VM pending until it reboots', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    await ok(call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 4, name: 'cp-1b'}))
    const pending = await ok<Array<Record<string, unknown>>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/pending'))
    expect(pending).toContainEqual({key: 'cores', pending: 4, value: 2})
    expect(pending).toContainEqual({key: 'name', value: 'cp-1b'})
    expect((await ok<Record<string, unknown>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config', {current: 1}))).cores).toBe(2)
    expect((await ok<Record<string, unknown>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config'))).cores).toBe(4)
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/reboot')
    expect(await ok(call(lab.server, 'GET', '/nodes/pve1/qemu/201/pending'))).not.toContainEqual(expect.objectContaining({pending: 4}))
    expect(lab.backend.callsTo('reboot')).toEqual([[201]])
  })

  it('grows a disk and refuses to shrink it', async () => {
    await seeded()
    const grown = await runTask(lab.server, 'PUT', '/nodes/pve1/qemu/201/resize', {disk: 'scsi0', size: '+10G'})
    expect(grown).toMatchObject({exitstatus: 'OK', type: 'resize'})
    expect(lab.backend.callsTo('resize')).toEqual([[201, 12 * 1024 ** 3]])
    expect((await ok<Record<string, string>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/config'))).scsi0).toBe('local-lvm:base-9000-disk-0/vm-201-disk-0,size=12G')
    const absolute = await runTask(lab.server, 'PUT', '/nodes/pve1/qemu/201/resize', {disk: 'scsi0', size: '32G'})
    expect(absolute.exitstatus).toBe('OK')
    const shrink = await runTask(lab.server, 'PUT', '/nodes/pve1/qemu/201/resize', {disk: 'scsi0', size: '16G'})
    expect(shrink.exitstatus).toBe('shrinking disks is not supported')
    expect((await runTask(lab.server, 'PUT', '/nodes/pve1/qemu/201/resize', {disk: 'scsi1', size: '+1G'})).exitstatus).toBe("disk 'scsi1' does not exist")
  })

  it('answers for a VM that does not exist and for a node that does not', async () => {
    const missing = await call(lab.server, 'GET', '/nodes/pve1/qemu/101/config')
    expect([missing.status, missing.statusText]).toEqual([500, "Configuration file 'nodes/pve1/qemu-server/101.conf' does not exist"])
    const node = await call(lab.server, 'GET', '/nodes/pve9/qemu/9000/config')
    expect([node.status, node.statusText]).toEqual([500, "hostname lookup 'pve9' failed - failed to get address info for: pve9: Name or service not known"])
  })
})

describe('a cluster of two nodes', () => {
  it('finds a VM only through its own node, and clones to shared storage on the other', async () => {
    const two = await startLab({nodes: ['pve1', 'pve2'], storage: ['local-lvm', {id: 'ceph', shared: true}]})
    try {
      await cloneTemplate(two.server, 201)
      const wrongNode = await call(two.server, 'GET', '/nodes/pve2/qemu/201/config')
      expect(wrongNode.statusText).toBe("Configuration file 'nodes/pve2/qemu-server/201.conf' does not exist")
      const local = await call(two.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 202, target: 'pve2'})
      expect(local.statusText).toBe("can't clone VM to node 'pve2' (VM uses local storage)")
      const nodes = await ok<Array<{node: string; status: string}>>(call(two.server, 'GET', '/nodes'))
      expect(nodes.map((n) => [n.node, n.status])).toEqual([['pve1', 'online'], ['pve2', 'online']])
    } finally {
      await two.server.close()
    }
  })
})

describe('clone, start, cloud-init', () => {
  it('clones the template through the backend, linked by default, full on request', async () => {
    await cloneTemplate(lab.server, 201)
    await cloneTemplate(lab.server, 202, {full: 1, storage: 'local-lvm'})
    expect(lab.backend.callsTo('clone')).toEqual([[9000, 201, false], [9000, 202, true]])
    expect(lab.server.vm(202)?.config.scsi0).toBe('local-lvm:vm-202-disk-0,size=2G')
    const linkedWithStorage = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 203, storage: 'local-lvm'})
    expect(linkedWithStorage.statusText).toBe("parameter 'storage' not allowed for linked clones")
  })

  it('refuses to clone onto an existing VM id', async () => {
    await cloneTemplate(lab.server, 201)
    const answer = await call(lab.server, 'POST', '/nodes/pve1/qemu/9000/clone', {newid: 201})
    expect([answer.status, answer.statusText]).toEqual([500, 'unable to create VM 201: config file already exists'])
    const onTemplate = await call(lab.server, 'POST', '/nodes/pve1/qemu/201/clone', {newid: 9000})
    expect(onTemplate.statusText).toBe('unable to create VM 9000: config file already exists')
  })

  it('start hands the backend a VmSpec with the cloud-init settings of the config', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    const [[spec]] = lab.backend.callsTo('start') as [[VmSpec]]
    expect(spec.cloudInit).toEqual({
      gateway: '10.77.0.1',
      hostname: 'cp-1',
      ip: '10.77.0.11/24',
      nameservers: ['10.77.0.1', '1.1.1.1'],
      searchdomain: 'lab.internal',
      sshAuthorizedKeys: [SSH_KEY],
      user: 'kp',
    })
    expect(spec).toMatchObject({name: 'cp-1', vmid: 201})
    expect(spec.config.cores).toBe('2')
    const status = await ok<Record<string, unknown>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/status/current'))
    expect(status).toMatchObject({agent: 1, name: 'cp-1', qmpstatus: 'running', status: 'running', vmid: 201})
    const again = await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    expect(again.exitstatus).toBe('VM 201 already running')
    const dump = await ok<string>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/cloudinit/dump', {type: 'user'}))
    expect(dump).toContain(`ssh_authorized_keys:\n  - ${SSH_KEY}`)
  })

  it('a template does not start', async () => {
    expect((await runTask(lab.server, 'POST', '/nodes/pve1/qemu/9000/status/start')).exitstatus).toBe("you can't start a vm if it's a template")
  })

  it('lists VMs in cluster resources and hands out the next free id', async () => {
    await seeded()
    const vms = await ok<Array<Record<string, unknown>>>(call(lab.server, 'GET', '/cluster/resources', {type: 'vm'}))
    expect(vms).toContainEqual(expect.objectContaining({maxcpu: 2, maxmem: 4096 * 1024 * 1024, name: 'cp-1', node: 'pve1', status: 'stopped', tags: 'k8s;control-plane', template: 0, vmid: 201}))
    expect(vms).toContainEqual(expect.objectContaining({name: 'debian-12-cloudinit', template: 1, vmid: 9000}))
    expect(await ok(call(lab.server, 'GET', '/cluster/nextid'))).toBe('100')
    expect((await call(lab.server, 'GET', '/cluster/nextid', {vmid: 201})).body?.errors).toEqual({vmid: 'VM 201 already exists'})
    const storage = await ok<Record<string, number>>(call(lab.server, 'GET', '/nodes/pve1/storage/local-lvm/status'))
    expect(storage).toMatchObject({active: 1, avail: 100 * 1024 ** 3 - (storage.used ?? 0), total: 100 * 1024 ** 3})
  })
})

describe('guest agent', () => {
  it('says No QEMU guest agent configured when agent is off', async () => {
    await seeded(201, {...NODE_CONFIG, agent: 0})
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    const answer = await call(lab.server, 'POST', '/nodes/pve1/qemu/201/agent/ping')
    expect([answer.status, answer.statusText]).toEqual([500, 'No QEMU guest agent configured'])
  })

  it('says QEMU guest agent is not running when the backend agent does not answer, or by fault', async () => {
    await seeded()
    const stopped = await call(lab.server, 'POST', '/nodes/pve1/qemu/201/agent/ping')
    expect(stopped.statusText).toBe('VM 201 is not running')
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    expect(await ok(call(lab.server, 'POST', '/nodes/pve1/qemu/201/agent/ping'))).toEqual({result: {}})

    lab.backend.setAgentAnswering(201, false)
    const silent = await call(lab.server, 'GET', '/nodes/pve1/qemu/201/agent/network-get-interfaces')
    expect([silent.status, silent.statusText]).toEqual([500, 'QEMU guest agent is not running'])
    lab.backend.setAgentAnswering(201, true)

    lab.server.setFaults({agentDown: [201]})
    expect((await call(lab.server, 'POST', '/nodes/pve1/qemu/201/agent/ping')).statusText).toBe('QEMU guest agent is not running')
  })

  it('reports interfaces and reads files', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    const {result} = await ok<{result: Array<{'ip-addresses': Array<{'ip-address': string}>; name: string}>}>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/agent/network-get-interfaces'))
    expect(result.find((i) => i.name === 'eth0')?.['ip-addresses']).toContainEqual({'ip-address': '10.77.0.11', 'ip-address-type': 'ipv4', prefix: 24})
    const key = await ok<{content: string}>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/agent/file-read', {file: '/etc/ssh/ssh_host_ed25519_key.pub'}))
    expect(key.content).toMatch(/^ssh-ed25519 \S+ root@cp-1\n$/)
    const missing = await call(lab.server, 'GET', '/nodes/pve1/qemu/201/agent/file-read', {file: '/etc/nope'})
    expect(missing.statusText).toBe("VM 201 qmp command 'guest-file-open' failed - Failed to open file '/etc/nope': No such file or directory")
  })
})

describe('snapshots and destroy', () => {
  it('snapshot, rollback and delete call the backend in order and restore the config', async () => {
    await seeded()
    expect((await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/snapshot', {description: 'before upgrade', snapname: 'pre_upgrade'})).exitstatus).toBe('OK')
    await ok(call(lab.server, 'PUT', '/nodes/pve1/qemu/201/config', {cores: 8}))
    const list = await ok<Array<Record<string, unknown>>>(call(lab.server, 'GET', '/nodes/pve1/qemu/201/snapshot'))
    expect(list).toEqual([
      {description: 'before upgrade', name: 'pre_upgrade', snaptime: expect.any(Number) as unknown, vmstate: 0},
      {description: 'You are here!', digest: expect.any(String) as unknown, name: 'current', parent: 'pre_upgrade', running: 0},
    ])

    expect((await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/snapshot/pre_upgrade/rollback')).exitstatus).toBe('OK')
    expect(lab.server.vm(201)?.config.cores).toBe('2')
    expect((await runTask(lab.server, 'DELETE', '/nodes/pve1/qemu/201/snapshot/pre_upgrade')).exitstatus).toBe('OK')
    expect(lab.server.vm(201)?.snapshots).toEqual({})
    expect(lab.server.vm(201)?.config.parent).toBeUndefined()

    const order = lab.backend.calls.map((c) => c.method).filter((m) => m.startsWith('snapshot'))
    expect(order).toEqual(['snapshot', 'snapshotRollback', 'snapshotDelete'])
    const again = await runTask(lab.server, 'DELETE', '/nodes/pve1/qemu/201/snapshot/pre_upgrade')
    expect(again.exitstatus).toBe("snapshot 'pre_upgrade' does not exist")
  })

  it('rollback stops a running VM first, and starts it again when asked', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/snapshot', {snapname: 'base'})
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/snapshot/base/rollback', {start: 1})
    const methods = lab.backend.calls.map((c) => c.method).filter((m) => ['start', 'stop', 'snapshotRollback'].includes(m))
    expect(methods).toEqual(['start', 'stop', 'snapshotRollback', 'start'])
    expect(lab.server.vm(201)?.running).toBe(true)
  })

  it('refuses to destroy a running VM, then destroys it once stopped', async () => {
    await seeded()
    await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/start')
    const running = await call(lab.server, 'DELETE', '/nodes/pve1/qemu/201', {purge: 1})
    expect([running.status, running.statusText]).toEqual([500, 'VM 201 is running - destroy failed'])

    expect((await runTask(lab.server, 'POST', '/nodes/pve1/qemu/201/status/stop')).exitstatus).toBe('OK')
    const destroyed = await runTask(lab.server, 'DELETE', '/nodes/pve1/qemu/201', {'destroy-unreferenced-disks': 1, purge: 1})
    expect(destroyed).toMatchObject({exitstatus: 'OK', type: 'qmdestroy'})
    expect(await taskLog(lab.server, destroyed.upid)).toContain('purging VM 201 from related configurations..')
    expect(lab.backend.callsTo('destroy')).toEqual([[201]])
    expect((await call(lab.server, 'GET', '/nodes/pve1/qemu/201/config')).statusText).toBe("Configuration file 'nodes/pve1/qemu-server/201.conf' does not exist")
  })
})
