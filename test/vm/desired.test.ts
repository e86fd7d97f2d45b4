/** What a node's VM should look like, and drift: the rules `kp vm seed` and `kp vm list` share. */
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import type {KpConfig} from '../../src/lib/config/schema.js'
import {parseConfig} from '../../src/lib/config/validate.js'
import {forgetHost, parsePublicKey, pinHostKey, pinnedFor, readKnownHosts} from '../../src/lib/known-hosts.js'
import {encodeSshKeys} from '../../src/lib/proxmox/types.js'
import {bootDisk, configDrift, desiredVm, fixParams, isOwnedBy} from '../../src/lib/vm/desired.js'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0b2tlbnMtYXJlLW5vdC1rZXlzLWJ1dC10aGlzLW9uZQ kp@laptop'

function config(): KpConfig {
  const parsed = parseConfig({
    cluster: {cni: {manifest: 'https://example.com/cni.yaml'}, controlPlaneEndpoint: '10.20.0.11:6443', kubernetesVersion: '1.31.8', name: 'homelab'},
    network: {dns: ['10.20.0.1', '1.1.1.1'], gateway: '10.20.0.1', prefix: 24, searchDomain: 'home.lan', vlan: 20},
    nodes: [{ip: '10.20.0.11', name: 'cp1', role: 'control-plane', vmid: 201}],
    proxmox: {endpoint: 'https://pve:8006', node: 'pve', templateVmid: 9000, tokenId: 'kp@pve!kp', tokenSecret: {env: 'X'}},
    ssh: {identityFile: '/k/id', user: 'debian'},
  })
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems))
  return parsed.config
}

describe('the desired VM', () => {
  const c = config()
  const want = desiredVm(c, c.nodes[0]!, [KEY])

  it('says everything kp.yaml says, in Proxmox wire form', () => {
    expect(want.config).toMatchObject({
      agent: 'enabled=1', ciuser: 'debian', cores: 2, ipconfig0: 'ip=10.20.0.11/24,gw=10.20.0.1', memory: 4096, name: 'cp1',
      nameserver: '10.20.0.1 1.1.1.1', net0: 'virtio,bridge=vmbr0,tag=20', searchdomain: 'home.lan', tags: 'control-plane;kp;kp-homelab',
    })
    expect(decodeURIComponent(String(want.config.sshkeys))).toBe(`${KEY}\n`)
    expect(String(want.config.sshkeys)).not.toMatch(/[ @]/)
  })

  it('sees no drift in a VM that Proxmox reports back in its own spelling', () => {
    const have = {
      ...want.config,
      agent: '1', // Proxmox may store the short form
      digest: 'abc',
      net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=20',
      sshkeys: encodeSshKeys([KEY]),
      tags: 'kp;kp-homelab;control-plane',
    }
    expect(configDrift(want.config, have)).toEqual([])
  })

  it('names each drifted key, and fixes net0 without losing the MAC', () => {
    const have = {...want.config, cores: 4, net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=30'}
    const drift = configDrift(want.config, have)
    expect(drift).toEqual([
      {from: '4', key: 'cores', to: '2'},
      {from: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=30', key: 'net0', to: 'virtio,bridge=vmbr0,tag=20'},
    ])
    expect(fixParams(want.config, have, drift)).toEqual({cores: 2, net0: 'virtio=BC:24:11:AA:BB:CC,bridge=vmbr0,tag=20'})
  })

  it('knows whose VM it is by the tag', () => {
    expect(isOwnedBy('kp;kp-homelab;worker', 'homelab')).toBe(true)
    expect(isOwnedBy('kp;kp-other', 'homelab')).toBe(false)
    expect(isOwnedBy(undefined, 'homelab')).toBe(false)
  })

  it('finds the boot disk and its size, skipping the cloud-init drive', () => {
    expect(bootDisk({ide2: 'local-lvm:vm-201-cloudinit,media=cdrom', scsi0: 'local-lvm:vm-201-disk-0,size=2G'})).toEqual({key: 'scsi0', sizeGiB: 2})
    expect(bootDisk({virtio0: 'local:201/vm-201-disk-0.qcow2,size=3584M'})).toEqual({key: 'virtio0', sizeGiB: 3.5})
    expect(bootDisk({ide2: 'none,media=cdrom'})).toBeUndefined()
  })
})

describe("kp's known_hosts", () => {
  const file = () => path.join(mkdtempSync(path.join(tmpdir(), 'kp-kh-')), 'known_hosts')

  it('pins, replaces a changed key, keeps other lines, and forgets', () => {
    const f = file()
    writeFileSync(f, '# mine\nother.lan ssh-ed25519 AAAAother\n')
    pinHostKey(f, '10.20.0.11', 'ssh-ed25519', 'AAAAfirst')
    pinHostKey(f, '10.20.0.11', 'ssh-ed25519', 'AAAAsecond')
    pinHostKey(f, '10.20.0.12', 'ssh-ed25519', 'AAAAthird', 2222)
    expect(readFileSync(f, 'utf8')).toBe('# mine\nother.lan ssh-ed25519 AAAAother\n10.20.0.11 ssh-ed25519 AAAAsecond\n[10.20.0.12]:2222 ssh-ed25519 AAAAthird\n')
    expect(pinnedFor(f, '10.20.0.12', 2222)).toEqual([{host: '[10.20.0.12]:2222', key: 'AAAAthird', type: 'ssh-ed25519'}])
    forgetHost(f, '10.20.0.11')
    expect(readKnownHosts(f).map((k) => k.host)).toEqual(['other.lan', '[10.20.0.12]:2222'])
  })

  it('reads a .pub line and rejects what is not a key', () => {
    expect(parsePublicKey(KEY)).toEqual({key: KEY.split(' ')[1], type: 'ssh-ed25519'})
    expect(parsePublicKey('hello world')).toBeUndefined()
    expect(parsePublicKey('')).toBeUndefined()
  })
})
