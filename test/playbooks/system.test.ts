/** swap, modules, sysctl, kubelet and crictl: the playbooks that set up the kernel and small files. */
import {readFileSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox, convergeOnce, expectedGolden, fixture} from './harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => sb.cleanup())

describe('swap.sh', () => {
  it('turns swap off once and comments out the active fstab swap lines', () => {
    // Given a cloud image with an active swap file and two fstab swap lines (one already commented)
    sb.write('etc/fstab', readFileSync(fixture('fstab.debian-cloud'), 'utf8'))
    sb.setState('swap', '/swapfile file 2G 0B -2\n')

    // When check, apply, apply, check run
    const changes = convergeOnce(sb, 'swap.sh')

    // Then
    expect(changes).toEqual([
      'turn off active swap: /swapfile',
      'disable swap line in /etc/fstab: /swapfile none swap sw 0 0',
      'disable swap line in /etc/fstab: UUID=0a1b2c3d-aaaa-bbbb-cccc-123456789abc  none  swap  sw,pri=5  0  0',
    ])
    expect(sb.read('etc/fstab')).toBe(expectedGolden('fstab', sb.read('etc/fstab')))
    expect(sb.calls().filter((c) => c.startsWith('swapoff'))).toEqual(['swapoff -a'])
  })

  it('changes nothing on a node without fstab swap and without active swap', () => {
    sb.write('etc/fstab', 'UUID=1 / ext4 defaults 0 1\n#kp-disabled: /swapfile none swap sw 0 0\n')
    expect(sb.run('swap.sh', ['check'])).toMatchObject({code: 0, stdout: ''})
    expect(sb.run('swap.sh', ['apply']).lines).toEqual(['KP_CHANGED=0'])
    expect(sb.calls()).not.toContain('swapoff -a')
  })

  it('refuses an unknown mode with exit 2 and a message', () => {
    const result = sb.run('swap.sh', ['fix'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('usage: swap.sh check|apply')
  })
})

describe('modules.sh', () => {
  it('writes modules-load.d and loads only the missing module', () => {
    sb.setState('modules/overlay', '')

    const changes = convergeOnce(sb, 'modules.sh')

    expect(changes).toEqual(['write /etc/modules-load.d/k8s.conf', 'load kernel module br_netfilter'])
    const conf = sb.read('etc/modules-load.d/k8s.conf')
    expect(conf).toBe(expectedGolden('modules-load.d-k8s.conf', conf))
    expect(sb.calls().filter((c) => c.startsWith('modprobe'))).toEqual(['modprobe -- br_netfilter'])
  })
})

describe('sysctl.sh', () => {
  it('writes the sysctl.d file and loads it with sysctl --system once', () => {
    sb.setState('modules/br_netfilter', '')
    sb.setState('sysctl/net.bridge.bridge-nf-call-iptables', '1\n')

    const changes = convergeOnce(sb, 'sysctl.sh')

    expect(changes).toEqual([
      'write /etc/sysctl.d/99-kubernetes.conf',
      'apply kernel parameters (sysctl --system): net.bridge.bridge-nf-call-ip6tables=0 net.ipv4.ip_forward=0',
    ])
    const conf = sb.read('etc/sysctl.d/99-kubernetes.conf')
    expect(conf).toBe(expectedGolden('sysctl.d-99-kubernetes.conf', conf))
    expect(sb.calls().filter((c) => c === 'sysctl --system')).toHaveLength(1)
  })

  it('applies again when a running value drifted though the file is right', () => {
    sb.setState('modules/br_netfilter', '')
    convergeOnce(sb, 'sysctl.sh')
    sb.setState('sysctl/net.ipv4.ip_forward', '0\n')

    const result = sb.run('sysctl.sh', ['apply'])

    expect(result.lines).toEqual(['apply kernel parameters (sysctl --system): net.ipv4.ip_forward=0', 'KP_CHANGED=1'])
  })

  it('loads a newly written file even when the running values are already right', () => {
    sb.setState('modules/br_netfilter', '')
    for (const k of ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.ipv4.ip_forward']) sb.setState(`sysctl/${k}`, '1\n')

    expect(convergeOnce(sb, 'sysctl.sh')).toEqual(['write /etc/sysctl.d/99-kubernetes.conf', 'apply kernel parameters (sysctl --system)'])
  })

  it('fails when sysctl --system cannot set the bridge keys (br_netfilter not loaded)', () => {
    const check = sb.run('sysctl.sh', ['check'])
    expect(check.code).toBe(10)
    expect(check.lines.at(-1)).toContain('net.bridge.bridge-nf-call-iptables=unreadable')

    const apply = sb.run('sysctl.sh', ['apply'])
    expect(apply.code).not.toBe(0)
    expect(apply.stdout).not.toContain('KP_CHANGED')
  })
})

describe('kubelet.sh', () => {
  it('enables the kubelet without starting it', () => {
    expect(convergeOnce(sb, 'kubelet.sh')).toEqual(['enable kubelet'])
    expect(sb.calls().filter((c) => c.startsWith('systemctl') && !c.includes('is-enabled'))).toEqual(['systemctl enable kubelet'])
  })
})

describe('crictl.sh', () => {
  it('writes /etc/crictl.yaml pointing at containerd', () => {
    expect(convergeOnce(sb, 'crictl.sh')).toEqual(['write /etc/crictl.yaml'])
    const conf = sb.read('etc/crictl.yaml')
    expect(conf).toBe(expectedGolden('crictl.yaml', conf))
  })

  it('rewrites a crictl.yaml that differs', () => {
    sb.write('etc/crictl.yaml', 'runtime-endpoint: unix:///var/run/dockershim.sock\n')
    expect(sb.run('crictl.sh', ['apply']).lines).toEqual(['write /etc/crictl.yaml', 'KP_CHANGED=1'])
    expect(sb.read('etc/crictl.yaml')).toContain('unix:///run/containerd/containerd.sock')
  })
})
