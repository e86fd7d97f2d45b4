import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {checkRequestLog} from '../../src/lib/lab/proxmox/index.js'
import {encodeSshKeys} from '../../src/lib/proxmox/types.js'
import {connect, type Lab, NODE, SSH_KEY, startLab, TEMPLATE, TOKEN} from './helpers.js'

const VMID = 201

describe('Proxmox adapter: a whole VM life', () => {
  let lab: Lab
  beforeAll(async () => {
    lab = await startLab()
  })
  afterAll(() => lab.close())

  it('clones, configures, runs, snapshots and destroys a VM, each call waiting on its task', async () => {
    // Given a client pinned to the simulated host
    const {logs, pve} = connect(lab.server)

    // When a VM goes through what vm-seed and the snapshot commands do
    const clone = await pve.clone(NODE, TEMPLATE, {full: true, name: 'cp-1', newid: VMID, storage: 'local-lvm'})
    expect(clone.exitstatus).toBe('OK')
    expect(clone.upid).toMatch(/^UPID:pve1:.*:qmclone:9000:/)

    const before = await pve.vmConfig(NODE, VMID)
    await pve.setConfig(NODE, VMID, {
      agent: 'enabled=1',
      ciuser: 'kp',
      cores: 2,
      ipconfig0: 'ip=10.20.0.11/24,gw=10.20.0.1',
      memory: 4096,
      net0: 'virtio,bridge=vmbr0,tag=20',
      sshkeys: encodeSshKeys([SSH_KEY]),
      tags: 'kp;control-plane',
    }, {digest: before.digest})
    const config = await pve.vmConfig(NODE, VMID)
    expect(config).toMatchObject({ciuser: 'kp', cores: 2, memory: '4096', name: 'cp-1'})
    expect(decodeURIComponent(String(config.sshkeys))).toBe(`${SSH_KEY}\n`)

    await pve.resize(NODE, VMID, 'scsi0', '32G')
    await pve.start(NODE, VMID)
    expect(await pve.status(NODE, VMID)).toMatchObject({status: 'running'})
    expect(await pve.agentPing(NODE, VMID)).toBe(true)
    expect(await pve.agentFileRead(NODE, VMID, '/etc/ssh/ssh_host_ed25519_key.pub')).toMatch(/^ssh-ed25519 /)
    expect(await pve.agentInterfaces(NODE, VMID)).toEqual(expect.arrayContaining([expect.objectContaining({name: expect.any(String) as string})]))

    await pve.snapshot(NODE, VMID, 'before-upgrade', 'kp upgrade')
    expect(await pve.snapshots(NODE, VMID)).toEqual([expect.objectContaining({description: 'kp upgrade', name: 'before-upgrade'})])
    await pve.rollback(NODE, VMID, 'before-upgrade')
    await pve.deleteSnapshot(NODE, VMID, 'before-upgrade')
    expect(await pve.snapshots(NODE, VMID)).toEqual([])

    await pve.shutdown(NODE, VMID, 30)
    expect(await pve.status(NODE, VMID)).toMatchObject({status: 'stopped'})
    await pve.destroy(NODE, VMID)

    // Then the VM is gone, every request was one the real API accepts, and the log never shows the secret
    expect(lab.server.vm(VMID)).toBeUndefined()
    expect((await pve.vms()).map((vm) => vm.vmid)).toEqual([TEMPLATE])
    expect(checkRequestLog(lab.server.requestLog)).toEqual([])
    expect(logs.length).toBe(lab.server.requestLog.length)
    expect(logs[0]).toMatch(/^POST \/nodes\/pve1\/qemu\/9000\/clone 200 \d+ms$/)
    expect(logs.every((line) => /^(GET|POST|PUT|DELETE) \/\S+ \d{3} \d+ms$/.test(line))).toBe(true)
    expect(logs.join('\n')).not.toContain(TOKEN.secret)
    await pve.close()
  })

  it('lists VMs with the template flag, and tells pending changes of a running VM', async () => {
    const {pve} = connect(lab.server)
    await pve.clone(NODE, TEMPLATE, {full: false, name: 'w-1', newid: 202})
    expect(await pve.vms()).toEqual(expect.arrayContaining([
      expect.objectContaining({name: 'debian-12-cloudinit', node: NODE, template: true, vmid: TEMPLATE}),
      expect.objectContaining({name: 'w-1', status: 'stopped', template: false, vmid: 202}),
    ]))
    await pve.start(NODE, 202)
    await pve.setConfig(NODE, 202, {cores: 4})
    expect(await pve.pending(NODE, 202)).toContain('cores')
    await pve.reboot(NODE, 202)
    expect(await pve.pending(NODE, 202)).toEqual([])
    await pve.stop(NODE, 202)
    await pve.destroy(NODE, 202)
    expect(checkRequestLog(lab.server.requestLog)).toEqual([])
    await pve.close()
  })
})
