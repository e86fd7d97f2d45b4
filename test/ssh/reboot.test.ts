import {describe, expect, it} from 'vitest'

import {InterruptedError} from '../../src/lib/errors.js'
import {HostKeyChangedError, SshConnectError, SshTimeoutError} from '../../src/lib/ssh/errors.js'
import {rebootAndWait, type RebootDeps} from '../../src/lib/ssh/reboot.js'

/**
 * A fake machine on a virtual clock: it goes down when rebooted, comes back `downMs` later with a
 * new boot id, and answers reconnects only when up.
 */
function machine(options: {downMs?: number; reboots?: boolean; reconnectError?: Error} = {}) {
  let clock = 0
  let boot = 'boot-1'
  let upAt = 0
  const calls: string[] = []
  const deps: RebootDeps = {
    bootId: async () => boot,
    connectTimeoutMs: 15_000,
    name: 'w1',
    now: () => clock,
    async reboot() {
      calls.push(`reboot@${clock}`)
      if (options.reboots === false) return
      upAt = clock + (options.downMs ?? 30_000)
      boot = 'boot-2'
    },
    async reconnectBootId() {
      calls.push(`connect@${clock}`)
      if (options.reconnectError) throw options.reconnectError
      if (clock < upAt) throw new SshConnectError('w1: connection refused')
      return boot
    },
    sleep: async (ms) => {
      clock += ms
    },
  }
  return {calls, deps}
}

describe('reboot detection by boot id', () => {
  it('reconnects with backoff until the machine is back with a new boot id', async () => {
    const {calls, deps} = machine({downMs: 20_000})
    await expect(rebootAndWait(deps, 600_000)).resolves.toEqual({bootId: 'boot-2', seconds: 25})
    // 1 s, then doubling up to 10 s between attempts.
    expect(calls).toEqual(['reboot@0', 'connect@1000', 'connect@3000', 'connect@7000', 'connect@15000', 'connect@25000'])
  })

  it('does not take an unchanged boot id for a reboot, and times out saying so', async () => {
    const {deps} = machine({reboots: false})
    const waiting = rebootAndWait(deps, 60_000)
    await expect(waiting).rejects.toBeInstanceOf(SshTimeoutError)
    await expect(waiting).rejects.toThrow(/w1 did not come back from its reboot within 60s; last: it answered with the same boot id/)
  })

  it('gives up at the deadline while the machine stays down', async () => {
    const {calls, deps} = machine({downMs: 3_600_000})
    await expect(rebootAndWait(deps, 120_000)).rejects.toThrow(/within 120s; last: w1: connection refused/)
    expect(calls.at(-1)).toBe('connect@120000')
  })

  it('does not retry a changed host key: waiting would only hide it', async () => {
    const changed = new HostKeyChangedError({host: '10.0.0.21', port: 22}, 'ssh-ed25519', 'SHA256:new', [])
    const {calls, deps} = machine({reconnectError: changed})
    await expect(rebootAndWait(deps, 600_000)).rejects.toBe(changed)
    expect(calls).toEqual(['reboot@0', 'connect@1000'])
  })

  it('stops waiting when interrupted', async () => {
    const controller = new AbortController()
    const {deps} = machine({downMs: 3_600_000})
    controller.abort()
    await expect(rebootAndWait({...deps, signal: controller.signal, sleep: undefined}, 600_000)).rejects.toBeInstanceOf(InterruptedError)
  })
})
