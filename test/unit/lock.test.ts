import {spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import {describe, expect, it} from 'vitest'

import {acquireLock, type LockHolder, readLock, releaseLock} from '../../src/lib/engine/lock.js'
import {tempDir} from '../helpers/cli.js'

const holder = (runId: string, pid = process.pid): LockHolder => ({cluster: 'c1', command: 'kp test', host: hostname(), pid, runId, startedAt: '2026-11-23T09:00:00.000Z'})

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout)
}

describe('cluster lock', () => {
  it('admits one holder; a second gets exit 3 naming the first; release frees it', () => {
    const stateDir = tempDir()
    const release = acquireLock(stateDir, holder('run-1'))

    expect(() => acquireLock(stateDir, holder('run-2'))).toThrow(expect.objectContaining({exitCode: 3, message: expect.stringContaining('run run-1 ("kp test", pid') as unknown}))
    release()
    expect(readLock(stateDir, 'c1')).toBeUndefined()
    acquireLock(stateDir, holder('run-2'))()
  })

  it('reports a dead holder as no longer running and points at resume and unlock', () => {
    const stateDir = tempDir()
    acquireLock(stateDir, holder('run-1', deadPid()))

    expect(() => acquireLock(stateDir, holder('run-2'))).toThrow(expect.objectContaining({
      hint: expect.stringMatching(/kp resume run-1.*kp runs unlock/) as unknown,
      message: expect.stringContaining('no longer running') as unknown,
    }))
  })

  it('lets a resume take over the lock its own dead run left, but not a live one', () => {
    const stateDir = tempDir()
    acquireLock(stateDir, holder('run-1', deadPid()))
    const release = acquireLock(stateDir, holder('run-1'), {takeOverFromRun: 'run-1'})
    expect(readLock(stateDir, 'c1')?.pid).toBe(process.pid)
    release()

    acquireLock(stateDir, holder('run-3'))
    expect(() => acquireLock(stateDir, holder('run-3'), {takeOverFromRun: 'run-3'})).toThrow(/locked by run run-3/)
  })

  it('does not release a lock that another run holds', () => {
    const stateDir = tempDir()
    acquireLock(stateDir, holder('run-1'))

    releaseLock(stateDir, holder('run-2'))

    expect(readLock(stateDir, 'c1')?.runId).toBe('run-1')
  })
})
