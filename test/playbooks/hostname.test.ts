import {readFileSync} from 'node:fs'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'

import {Sandbox, convergeOnce, expectedGolden, fixture} from './harness.js'

let sb: Sandbox
beforeEach(() => {
  sb = new Sandbox()
  sb.write('etc/hostname', 'debian\n')
  sb.write('etc/hosts', readFileSync(fixture('hosts.debian-cloud'), 'utf8'))
})
afterEach(() => sb.cleanup())

describe('hostname.sh', () => {
  it('sets the hostname and maps it to the node IP instead of 127.0.1.1', () => {
    const changes = convergeOnce(sb, 'hostname.sh', ['cp-1', '10.20.0.11', 'lab.internal'])

    expect(changes).toEqual([
      'write /etc/hostname',
      'set the running hostname to cp-1 (was debian)',
      'remove from /etc/hosts: 127.0.1.1 cp-1.lab.internal cp-1',
      'add to /etc/hosts: 10.20.0.11 cp-1.lab.internal cp-1',
    ])
    expect(sb.read('etc/hostname')).toBe('cp-1\n')
    expect(sb.calls().filter((c) => c.startsWith('hostname '))).toEqual(['hostname cp-1'])
    const hosts = sb.read('etc/hosts')
    expect(hosts).toBe(expectedGolden('hosts', hosts))
  })

  it('replaces the kp block in place when the IP changes, and keeps a 127.0.1.1 line of another name', () => {
    sb.write('etc/hosts', '127.0.0.1 localhost\n127.0.1.1 debian\n# BEGIN kp\n10.20.0.99 w-1\n# END kp\n10.9.9.9 nas\n')

    const changes = convergeOnce(sb, 'hostname.sh', ['w-1', '10.20.0.21'])

    expect(changes).toContain('add to /etc/hosts: 10.20.0.21 w-1')
    expect(changes).toContain('remove from /etc/hosts: 10.20.0.99 w-1')
    expect(sb.read('etc/hosts')).toBe('127.0.0.1 localhost\n127.0.1.1 debian\n# BEGIN kp\n10.20.0.21 w-1\n# END kp\n10.9.9.9 nas\n')
  })

  it.each([
    [['check', 'CP_1', '10.0.0.1'], 'NAME must be'],
    [['check', 'cp-1', '10.0.0.1; rm -rf /'], 'IP must be'],
    [['check', 'cp-1', '10.0.0.1', 'bad domain'], 'DOMAIN must be'],
    [['check'], 'NAME must be'],
  ])('refuses bad arguments %j', (args, message) => {
    const result = sb.run('hostname.sh', args)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(sb.calls()).toEqual([])
  })

  it('fails on a kp block without its end marker instead of eating the file', () => {
    sb.write('etc/hosts', '127.0.0.1 localhost\n# BEGIN kp\n10.0.0.1 cp-1\n')
    const result = sb.run('hostname.sh', ['apply', 'cp-1', '10.0.0.1'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain("without '# END kp'")
    expect(sb.read('etc/hosts')).toBe('127.0.0.1 localhost\n# BEGIN kp\n10.0.0.1 cp-1\n')
  })
})
