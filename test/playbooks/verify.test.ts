import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox} from './harness.js'

const VERSION = '1.31.8'
const PAUSE = 'registry.k8s.io/pause:3.10'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => sb.cleanup())

/** Brings the sandbox node where node-prepare leaves it, through the playbooks themselves. */
function prepareNode(): void {
  sb.write('etc/fstab', '/swapfile none swap sw 0 0\n')
  sb.setState('swap', '/swapfile file 2G 0B -2\n')
  sb.setState('upstream/containerd', '1.6.20~ds1-1+b1\n')
  for (const p of ['kubelet', 'kubeadm', 'kubectl']) sb.setState(`upstream/${p}`, '1.31.8-1.1\n')
  sb.setState('upstream/cri-tools', '1.31.1-1.1\n')
  const steps: Array<[string, string[]]> = [
    ['swap.sh', []],
    ['modules.sh', []],
    ['sysctl.sh', []],
    ['containerd.sh', [PAUSE]],
    ['k8s-repo.sh', ['https://pkgs.k8s.io/core:/stable:/v1.31/deb/', 'https://pkgs.k8s.io/core:/stable:/v1.31/deb/Release.key']],
    ['k8s-packages.sh', [VERSION]],
    ['kubelet.sh', []],
    ['crictl.sh', []],
  ]
  for (const [script, args] of steps) {
    const result = sb.run(script, ['apply', ...args])
    expect(result.code, `${script}: ${result.stderr}`).toBe(0)
  }
}

describe('verify.sh', () => {
  it('passes every check on a prepared node', () => {
    prepareNode()
    sb.clearCalls()

    const result = sb.run('verify.sh', [VERSION, PAUSE])

    expect(result.code, result.stdout + result.stderr).toBe(0)
    expect(result.lines.filter((l) => !l.startsWith('ok: '))).toEqual([])
    expect(result.lines).toHaveLength(21)
    expect(sb.calls().filter((c) => /^(apt-get|swapoff|modprobe|hostname |systemctl (enable|start|restart))/.test(c))).toEqual([])
  })

  it('names each failed check and exits 1', () => {
    prepareNode()
    sb.setState('swap', '/swapfile file 2G 0B -2\n')
    sb.setState('dpkg/kubeadm', '1.31.9-1.1\n')

    const result = sb.run('verify.sh', [VERSION, 'registry.k8s.io/pause:3.9'])

    expect(result.code).toBe(1)
    expect(result.lines.filter((l) => l.startsWith('FAIL: '))).toEqual([
      'FAIL: no active swap',
      'FAIL: containerd sandbox image is registry.k8s.io/pause:3.9',
      'FAIL: kubeadm 1.31.8 installed',
    ])
  })

  it('fails everything on a blank node without crashing', () => {
    const result = sb.run('verify.sh', [VERSION, PAUSE])
    expect(result.code).toBe(1)
    expect(result.lines.every((l) => /^(ok|FAIL): /.test(l))).toBe(true)
    expect(result.lines.filter((l) => l.startsWith('FAIL: ')).length).toBeGreaterThan(10)
  })

  it('refuses a bad version with exit 2', () => {
    expect(sb.run('verify.sh', ['1.31', PAUSE]).code).toBe(2)
  })
})
