import {type ChildProcessWithoutNullStreams, spawn, spawnSync} from 'node:child_process'
import {hostname} from 'node:os'
import path from 'node:path'
import {createInterface, type Interface} from 'node:readline'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {acquireLock, type LockHolder, readLock, releaseLock} from '../../src/lib/engine/lock.js'
import {repoRoot, tempDir} from '../helpers/cli.js'

const CONTENDERS = 6
const TRIALS = 30

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout)
}

interface Contender {
  child: ChildProcessWithoutNullStreams
  next: () => Promise<string>
}

function contender(): Contender {
  const lockModule = path.join(repoRoot, 'dist', 'lib', 'engine', 'lock.js')
  const child = spawn(process.execPath, [path.join(repoRoot, 'test', 'fixtures', 'lock-racer.mjs'), lockModule])
  const lines: Interface = createInterface({input: child.stdout})
  const queue: string[] = []
  const waiting: Array<(line: string) => void> = []
  lines.on('line', (line) => (waiting.shift() ?? ((l: string) => queue.push(l)))(line))
  const next = (): Promise<string> => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve)))
  return {child, next}
}

describe('two resumes of one dead run (real processes, the built lock module)', () => {
  let contenders: Contender[]
  beforeAll(async () => {
    contenders = Array.from({length: CONTENDERS}, contender)
    expect(await Promise.all(contenders.map((c) => c.next()))).toEqual(Array(CONTENDERS).fill('ready'))
  })
  afterAll(() => {
    for (const c of contenders) c.child.kill()
  })

  it(`exactly one of ${CONTENDERS} takes the lock over, in each of ${TRIALS} trials; no loser and no stale holder releases the winner's lock`, async () => {
    const outcomes: string[] = []
    for (let trial = 0; trial < TRIALS; trial++) {
      const stateDir = tempDir('kp-lock-race-')
      const dead: LockHolder = {cluster: 'race', command: 'kp run', host: hostname(), pid: deadPid(), runId: 'run-dead', startedAt: '2026-11-23T09:00:00.000Z'}
      acquireLock(stateDir, dead)

      for (const c of contenders) c.child.stdin.write(`go ${stateDir} run-dead\n`)
      const answers = await Promise.all(contenders.map((c) => c.next()))
      const winners = contenders.filter((_, i) => answers[i] === 'won')
      outcomes.push(answers.map((a) => a.split(' ')[0]).join(','))
      expect(winners, `trial ${trial}: ${answers.join(', ')}`).toHaveLength(1)
      expect(answers.filter((a) => a !== 'won')).toEqual(Array(CONTENDERS - 1).fill('lost 3'))
      const winner = winners[0]!
      expect(readLock(stateDir, 'race')?.pid).toBe(winner.child.pid)

      // Every loser releases as if it held the lock (same run id), and so does the dead holder.
      const losers = contenders.filter((c) => c !== winner)
      for (const c of losers) c.child.stdin.write('release\n')
      expect(await Promise.all(losers.map((c) => c.next()))).toEqual(Array(CONTENDERS - 1).fill('released'))
      releaseLock(stateDir, dead)
      expect(readLock(stateDir, 'race')?.pid).toBe(winner.child.pid)

      winner.child.stdin.write('release\n')
      expect(await winner.next()).toBe('released')
      expect(readLock(stateDir, 'race')).toBeUndefined()
    }

    expect(outcomes).toHaveLength(TRIALS)
  }, 300_000)
})
