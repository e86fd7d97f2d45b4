import {readFileSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox, convergeOnce, expectedGolden, fixture, golden} from './harness.js'

const PAUSE = 'registry.k8s.io/pause:3.10'
const defaultConfig = readFileSync(fixture('containerd-config-default-1.6.20.toml'), 'utf8')

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
})
afterEach(() => sb.cleanup())

const render = (input: string, image = PAUSE) => sb.runWithInput('containerd.sh', ['render', image], input)

describe('containerd.sh render', () => {
  it('turns on SystemdCgroup for runc and sets the pause image, nothing else', () => {
    const result = render(defaultConfig)

    expect(result.code).toBe(0)
    expect(result.stdout).toBe(expectedGolden('containerd-config.toml', result.stdout))
    const changed = diffLines(defaultConfig, result.stdout)
    expect(changed).toEqual([
      ['    sandbox_image = "registry.k8s.io/pause:3.6"', '    sandbox_image = "registry.k8s.io/pause:3.10"'],
      ['            SystemdCgroup = false', '            SystemdCgroup = true'],
    ])
  })

  it('adds the keys when the tables lack them', () => {
    const input = '[plugins."io.containerd.grpc.v1.cri"]\n  x = 1\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n'
    expect(render(input).stdout).toBe(
      '[plugins."io.containerd.grpc.v1.cri"]\n  x = 1\n  sandbox_image = "registry.k8s.io/pause:3.10"\n' +
        '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]\n  SystemdCgroup = true\n',
    )
  })

  it('fails on a config without the CRI tables (e.g. containerd 2 format)', () => {
    const result = render('version = 3\n[plugins."io.containerd.cri.v1.runtime"]\n')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('not a containerd 1.6/1.7 config')
  })

  it('refuses a pause image that could break out of the TOML string', () => {
    const result = render(defaultConfig, 'registry.k8s.io/pause:3.10" evil="1')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('PAUSE_IMAGE must be')
  })
})

describe('containerd.sh check|apply', () => {
  it('installs containerd on a fresh node, writes the config and restarts it once', () => {
    sb.setState('upstream/containerd', '1.6.20~ds1-1+b1\n')

    const check = sb.run('containerd.sh', ['check', PAUSE])
    const apply = sb.run('containerd.sh', ['apply', PAUSE])

    expect(check.code).toBe(10)
    expect(check.lines).toContain('would install package containerd')
    expect(apply.lines).toEqual([
      'install package containerd',
      `write /etc/containerd/config.toml (SystemdCgroup = true, sandbox_image = "${PAUSE}")`,
      'restart containerd',
      'KP_CHANGED=1',
    ])
    expect(sb.read('etc/containerd/config.toml')).toBe(readFileSync(golden('containerd-config.toml'), 'utf8'))
    const calls = sb.calls()
    expect(calls).toContain('apt-get update -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60')
    expect(calls).toContain('apt-get install -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60 -y -o Dpkg::Options::=--force-confold containerd')
    expect(calls.filter((c) => c === 'systemctl restart containerd')).toHaveLength(1)

    sb.clearCalls()
    expect(sb.run('containerd.sh', ['apply', PAUSE]).lines).toEqual(['KP_CHANGED=0'])
    expect(sb.run('containerd.sh', ['check', PAUSE])).toMatchObject({code: 0, stdout: ''})
    expect(sb.calls().filter((c) => c.startsWith('apt-get') || c.includes('restart'))).toEqual([])
  })

  it('does not update the package lists when they already know containerd', () => {
    sb.setState('repo/containerd', '1.6.20~ds1-1+b1\n')

    expect(sb.run('containerd.sh', ['apply', PAUSE]).lines).toContain('install package containerd')
    expect(sb.calls().filter((c) => c.startsWith('apt-get'))).toEqual(['apt-get install -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 -o Acquire::http::Timeout=60 -y -o Dpkg::Options::=--force-confold containerd'])
  })

  it('on an installed but stopped containerd with the Debian config: configures, enables, restarts', () => {
    sb.setState('dpkg/containerd', '1.6.20~ds1-1+b1\n')
    sb.setState('repo/containerd', '1.6.20~ds1-1+b1\n')

    const changes = convergeOnce(sb, 'containerd.sh', [PAUSE])

    expect(changes).toEqual([
      `write /etc/containerd/config.toml (SystemdCgroup = true, sandbox_image = "${PAUSE}")`,
      'enable containerd',
      'restart containerd',
    ])
    expect(sb.calls().filter((c) => c.startsWith('apt-get'))).toEqual([])
    expect(sb.calls().filter((c) => c === 'systemctl restart containerd')).toHaveLength(1)
  })

  it('starts a configured containerd that is stopped, without restarting it', () => {
    sb.setState('dpkg/containerd', '1.6.20~ds1-1+b1\n')
    sb.setState('units/enabled/containerd', '')
    sb.write('etc/containerd/config.toml', readFileSync(golden('containerd-config.toml'), 'utf8'))

    expect(convergeOnce(sb, 'containerd.sh', [PAUSE])).toEqual(['start containerd'])
    expect(sb.calls()).not.toContain('systemctl restart containerd')
  })
})

/** Pairs of (old, new) lines that differ, for two texts with the same number of lines. */
function diffLines(a: string, b: string): Array<[string, string]> {
  const left = a.split('\n')
  const right = b.split('\n')
  expect(right).toHaveLength(left.length)
  return left.flatMap((line, i) => (line === right[i] ? [] : [[line, right[i]!] as [string, string]]))
}
