import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox} from './harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
  sb.write('etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n')
  sb.write('proc/meminfo', 'MemTotal:        4028532 kB\nMemFree:         3123456 kB\n')
  sb.write('proc/sys/kernel/random/boot_id', '6d1b5e4c-1b7e-4f7e-9a51-3c2d1e0f9a8b\n')
  sb.write('sys/class/dmi/id/product_uuid', 'A1B2C3D4-0000-1111-2222-333344445555\n')
  sb.write('sys/class/net/lo/address', '00:00:00:00:00:00\n')
  // eth0 has the larger MAC: the list is sorted by address, not by interface name.
  sb.write('sys/class/net/eth0/address', 'bc:24:11:00:00:02\n')
  sb.write('sys/class/net/eth1/address', 'bc:24:11:00:00:01\n')
  sb.setState('hostname', 'cp-1\n')
})
afterEach(() => sb.cleanup())

describe('facts.sh', () => {
  it('prints one JSON object with the node facts', () => {
    sb.setState('swap', '/swapfile file 2G 0B -2\n')
    sb.setState('dpkg/containerd', '1.6.20~ds1-1+b1\n')
    sb.setState('dpkg/kubeadm', '1.31.8-1.1\n')
    sb.setState('held/kubeadm', '')

    const result = sb.run('facts.sh')

    expect(result.code, result.stderr).toBe(0)
    expect(result.lines).toHaveLength(1)
    expect(JSON.parse(result.stdout)).toEqual({
      arch: 'amd64',
      bootId: '6d1b5e4c-1b7e-4f7e-9a51-3c2d1e0f9a8b',
      cpus: 4,
      held: ['kubeadm'],
      hostname: 'cp-1',
      macs: ['bc:24:11:00:00:01', 'bc:24:11:00:00:02'],
      memoryMiB: 3934,
      os: 'debian',
      osVersion: '12',
      packages: {containerd: '1.6.20~ds1-1+b1', kubeadm: '1.31.8-1.1'},
      productUuid: 'A1B2C3D4-0000-1111-2222-333344445555',
      swapActive: true,
    })
    // Read-only: only readers were called.
    expect(sb.calls().map((c) => c.split(' ')[0])).toEqual(expect.arrayContaining(['dpkg', 'nproc', 'hostname', 'swapon', 'apt-mark']))
    expect(sb.calls().filter((c) => /^(apt-get|systemctl|swapoff|modprobe)/.test(c))).toEqual([])
  })

  it('reports an unreadable product_uuid as empty, and escapes odd strings', () => {
    sb.write('sys/class/dmi/id/product_uuid', '')
    sb.write('etc/os-release', 'ID="debian"\nVERSION_ID="12 \\"x\\"\ttab"\n')

    const facts = JSON.parse(sb.run('facts.sh').stdout) as Record<string, unknown>

    expect(facts.productUuid).toBe('')
    expect(facts.osVersion).toBe('12 \\"x\\"\ttab')
    expect(facts.swapActive).toBe(false)
    expect(facts.packages).toEqual({})
    expect(facts.held).toEqual([])
  })

  it('fails (not a half object) when /proc/meminfo is unreadable', () => {
    sb.write('proc/meminfo', 'garbage\n')
    const result = sb.run('facts.sh')
    expect(result.code).toBe(2)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('MemTotal')
  })
})
