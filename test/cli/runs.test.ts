import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import type {Journal} from '../../src/lib/engine/journal.js'
import {parseEnvelope} from '../helpers/cli.js'
import {kp, world, type World} from '../helpers/fake-world.js'

/** A pid that certainly belonged to a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {encoding: 'utf8'}).stdout)
}

function journal(runId: string, over: Partial<Journal> = {}): Journal {
  const at = `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}T${runId.slice(9, 11)}:${runId.slice(11, 13)}:${runId.slice(13, 15)}.000Z`
  return {
    argv: ['run', 'fake'],
    attempts: [{endedAt: at, host: hostname(), pid: 1, startedAt: at, status: 'failed'}],
    cluster: 'testlab',
    host: hostname(),
    params: {node: 'w2'},
    pid: 1,
    runId,
    startedAt: at,
    status: 'failed',
    steps: [{id: 'step-1', status: 'failed', title: 'Prepare the targets', units: [{attempts: 1, changed: false, status: 'failed', target: 'a'}]}],
    updatedAt: at,
    version: 1,
    workflow: 'fake',
    ...over,
  }
}

function plant(w: World, runId: string, content: unknown): string {
  const file = path.join(w.stateDir, 'runs', runId, 'journal.json')
  mkdirSync(path.dirname(file), {recursive: true})
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
  return file
}

const BAD: Array<[string, unknown, RegExp]> = [
  ['null', null, /the journal must be an object, not null/],
  ['no steps', {...journal('20261123-080000-0002'), steps: undefined}, /steps is missing/],
  ['no argv', {...journal('20261123-080000-0003'), argv: undefined}, /argv is missing/],
  ['attempts not a list', {...journal('20261123-080000-0004'), attempts: 7}, /attempts must be a list, not 7/],
  ['truncated JSON', '{"runId": "20261123-0800', /not JSON/],
]

describe('a malformed journal', () => {
  it.for(BAD.map(([name, content, problem], i) => [name, content, problem, `20261123-08000${i + 1}-0000`] as const))(
    '(%s) is listed as unreadable with its path; show and resume of it say so; the other runs still list and resume',
    async ([, content, problem, badId], {expect}) => {
      const w = world()
      const failed = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`, '--param', 'failOnce=step-2@a'])
      expect(failed.code).toBe(1)
      const file = plant(w, badId, content)

      const list = await kp(w, ['runs', 'list'])
      expect(list.stderr).toBe('')
      expect(list.code).toBe(0)
      expect(list.stdout).toMatch(new RegExp(`${badId}\\s+\\?\\s+\\?\\s+unreadable`))
      expect(list.stdout).toContain(`${badId}: its journal cannot be read (`)
      expect(list.stdout).toContain(file)
      expect(list.stdout).toMatch(problem)
      expect(list.stdout).toMatch(/Finish \S+ with "kp resume \S+"/)

      const json = parseEnvelope<Array<{file?: string; problem?: string; runId: string; status: string}>>((await kp(w, ['runs', 'list', '--json'])).stdout)
      expect(json.ok).toBe(true)
      const bad = json.result!.find((r) => r.runId === badId)
      expect(bad).toMatchObject({file, resumable: false, status: 'unreadable'})
      expect(bad?.problem).toMatch(problem)
      expect(json.result!.filter((r) => r.status === 'failed')).toHaveLength(1)

      for (const args of [['runs', 'show', badId], ['resume', badId]]) {
        const refused = await kp(w, args)
        expect(refused.code, args.join(' ')).toBe(2)
        expect(refused.stderr).toContain(`The journal of run ${badId} cannot be read: ${file}:`)
        expect(refused.stderr).toMatch(/kp runs unlock/)
        expect(refused.stderr).not.toMatch(/^\s+at /m)
      }

      // A bare resume passes over the unreadable journal and finishes the run that failed.
      const resumed = await kp(w, ['resume'])
      expect(resumed.stderr).toBe('')
      expect(resumed.code).toBe(0)
    },
  )

  it("behind a lock: a new run is told the locking run's journal is unreadable, where, and what to do", async () => {
    const w = world()
    const runId = '20261123-090000-dead'
    const file = plant(w, runId, '{"runId": "20261123-09')
    const lock = path.join(w.stateDir, 'locks', 'testlab.lock')
    mkdirSync(path.dirname(lock), {recursive: true})
    writeFileSync(lock, JSON.stringify({cluster: 'testlab', command: 'kp run fake', host: hostname(), pid: deadPid(), runId, startedAt: '2026-11-23T09:00:00.000Z'}))

    const blocked = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`])

    expect(blocked.code).toBe(3)
    expect(blocked.stderr).toContain(`locked by run ${runId}`)
    expect(blocked.stderr).toContain('whose journal cannot be read (not JSON')
    expect(blocked.stderr).toContain(file)
    expect(blocked.stderr).toContain('kp runs unlock')
    expect(blocked.stderr).not.toContain(`kp resume ${runId}`)

    const resume = await kp(w, ['resume', runId])
    expect(resume.code).toBe(2)
    expect(resume.stderr).toContain('cannot be read')
    expect(resume.stderr).not.toContain('No run')
  })
})

describe('cluster names from flags', () => {
  it('kp runs unlock --cluster ../../x is refused with exit 2 and deletes nothing', async () => {
    const w = world()
    const outside = path.join(w.dir, 'x.lock')
    writeFileSync(outside, '{}')

    for (const name of ['../../x', '../x', 'a/b', '.', '']) {
      const result = await kp(w, ['runs', 'unlock', '--cluster', name, '--yes', '--force'])
      expect(result.code, name).toBe(2)
      expect(result.stderr).toContain(`${JSON.stringify(name)} is not a cluster name (--cluster)`)
    }

    expect(existsSync(outside)).toBe(true)
    expect((await kp(w, ['runs', 'list', '--cluster', '../x'])).code).toBe(2)
  })
})

describe('superseded runs', () => {
  it('a failed run is superseded by a later finished run of the same workflow and parameters: not suggested, not resumed', async () => {
    const w = world()
    const old = '20261123-080000-0001'
    const later = '20261123-090000-0002'
    const other = '20261123-070000-0003'
    plant(w, old, journal(old))
    plant(w, later, journal(later, {attempts: [], status: 'done', steps: []}))
    plant(w, other, journal(other, {params: {dir: w.dir, node: 'w3'}}))

    const list = await kp(w, ['runs', 'list'])
    expect(list.code).toBe(0)
    expect(list.stdout).toMatch(new RegExp(`${old}\\s+fake\\s+testlab\\s+failed, superseded`))
    expect(list.stdout).toContain(`${old}: superseded by ${later}`)
    expect(list.stdout).not.toContain(`kp resume ${old}`)
    expect(list.stdout).toContain(`Finish ${other} with "kp resume ${other}".`)

    const json = parseEnvelope<Array<{resumable: boolean; runId: string; supersededBy?: string}>>((await kp(w, ['runs', 'list', '--json'])).stdout).result!
    expect(json.find((r) => r.runId === old)).toMatchObject({resumable: false, supersededBy: later})
    expect(json.find((r) => r.runId === other)).toMatchObject({resumable: true})
    expect(json.find((r) => r.runId === other)?.supersededBy).toBeUndefined()

    const show = await kp(w, ['runs', 'show', old])
    expect(show.stdout).toContain(`Superseded by ${later}`)
    expect(show.stdout).not.toContain('kp resume')

    // A bare resume picks the run nothing superseded.
    const resume = await kp(w, ['resume', '--dry-run'])
    expect(resume.code).toBe(0)
    expect(resume.stdout).toContain(`Resuming run ${other}`)
  })
})
