import {existsSync, readdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import type {Journal} from '../../src/lib/engine/journal.js'
import {parseEnvelope, runKp, spawnKp} from '../helpers/cli.js'
import {kp, world, type World} from '../helpers/fake-world.js'

const UNITS = [1, 2, 3, 4, 5].flatMap((n) => ['a', 'b', 'c'].map((t) => `step-${n}@${t}`))

function startFake(w: World, ...params: string[]) {
  return spawnKp(['run', 'fake', '-c', w.config, '--param', `dir=${w.dir}`, ...params.flatMap((p) => ['--param', p])], {env: w.env})
}

function effects(w: World): string[] {
  const file = path.join(w.dir, 'effects.log')
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []
}

function journals(w: World): Journal[] {
  const runs = path.join(w.stateDir, 'runs')
  if (!existsSync(runs)) return []
  return readdirSync(runs).flatMap((id) => {
    try {
      return [JSON.parse(readFileSync(path.join(runs, id, 'journal.json'), 'utf8')) as Journal]
    } catch {
      return []
    }
  })
}

function unitStatus(w: World, unit: string): string | undefined {
  const [stepId, target] = unit.split('@')
  return journals(w)[0]?.steps.find((s) => s.id === stepId)?.units.find((u) => u.target === target)?.status
}

async function until(cond: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

function countEach(lines: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const line of lines) counts[line] = (counts[line] ?? 0) + 1
  return counts
}

const exactlyOnce = Object.fromEntries(UNITS.map((u) => [u, 1]))

describe('kill -9 and resume', () => {
  // Even units are killed before their effect, odd ones after the effect but before the journal
  // says done: both windows must converge to exactly one effect per unit.
  // Each case is its own process tree and folder, so they can run side by side.
  it.concurrent.for(UNITS.map((unit, i) => [unit, i % 2 === 0 ? 'before' : 'after'] as const))(
    'kill -9 during %s (%s its effect), then kp resume: every unit acted exactly once',
    async ([unit, when], {expect}) => {
      const w = world()
      const {child, done} = startFake(w, 'sleepMs=80')
      await until(() => unitStatus(w, unit) === 'running', `${unit} running`)
      if (when === 'after') await until(() => effects(w).includes(unit), `${unit}'s effect`)
      child.kill('SIGKILL')
      expect((await done).code).toBe(137)

      const list = await kp(w, ['runs', 'list', '--json'])
      expect(parseEnvelope<Array<{status: string}>>(list.stdout).result?.[0]?.status).toBe('crashed')

      const resumed = await kp(w, ['resume'])

      expect(resumed.stderr).toBe('')
      expect(resumed.code).toBe(0)
      expect(countEach(effects(w))).toEqual(exactlyOnce)
      const [journal] = journals(w)
      expect(journal?.status).toBe('done')
      expect(journal?.attempts.map((a) => a.status)).toEqual(['interrupted', 'done'])
      expect(existsSync(path.join(w.stateDir, 'locks', 'testlab.lock'))).toBe(false)
    },
  )
})

describe('check and dry run', () => {
  it('--dry-run prints every unit with what it would do and changes nothing on disk', async () => {
    const w = world()
    writeFileSync(path.join(w.dir, 'effects.log'), 'step-2@b\n')
    const before = snapshot(w.dir)

    const result = await runKp(['run', 'fake', '--dry-run', '-c', w.config, '--param', `dir=${w.dir}`], {env: w.env})

    expect(result.code).toBe(0)
    for (const unit of UNITS.filter((u) => u !== 'step-2@b')) {
      expect(result.stdout).toContain(`${unit.split('@')[1]}: would record the effect of ${unit}`)
    }

    expect(result.stdout).toContain('b: already done (effect already on disk)')
    expect(result.stdout).toContain('14 unit(s) would change something.')
    expect(snapshot(w.dir)).toEqual(before)
  })

  it('a unit whose check says done is skipped and marked so in the journal', async () => {
    const w = world()
    writeFileSync(path.join(w.dir, 'effects.log'), 'step-3@c\n')

    const result = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`, '--json'])

    expect(result.code).toBe(0)
    expect(countEach(effects(w))).toEqual(exactlyOnce)
    const unit = journals(w)[0]!.steps.find((s) => s.id === 'step-3')!.units.find((u) => u.target === 'c')
    expect(unit).toMatchObject({changed: false, skippedReason: 'effect already on disk', status: 'skipped'})
    expect(parseEnvelope<{changed: number}>(result.stdout).result?.changed).toBe(14)
  })
})

describe('the cluster lock', () => {
  it('a second run exits 3 naming the holder; the first finishes', async () => {
    const w = world()
    const first = startFake(w, 'sleepMs=150')
    await until(() => existsSync(path.join(w.stateDir, 'locks', 'testlab.lock')), 'the lock')

    const second = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`])

    expect(second.code).toBe(3)
    expect(second.stderr).toMatch(/Cluster "testlab" is locked by run \S+ \("kp run fake -c .*", pid \d+ on /)
    expect((await first.done).code).toBe(0)
    expect(countEach(effects(w))).toEqual(exactlyOnce)
  })

  it('a lock whose holder died is reported as such and can be cleared with kp runs unlock', async () => {
    const w = world()
    const {child, done} = startFake(w, 'sleepMs=100')
    await until(() => unitStatus(w, 'step-1@a') === 'running', 'a unit running')
    child.kill('SIGKILL')
    await done

    const blocked = await kp(w, ['run', 'fake-destructive', '--yes', '--param', `dir=${w.dir}`])
    expect(blocked.code).toBe(3)
    expect(blocked.stderr).toContain('which is no longer running')
    expect(blocked.stderr).toContain('kp runs unlock')

    const refused = await kp(w, ['runs', 'unlock'])
    expect(refused.code).toBe(4)

    const unlocked = await kp(w, ['runs', 'unlock', '--yes'])
    expect(unlocked.code).toBe(0)
    expect(existsSync(path.join(w.stateDir, 'locks', 'testlab.lock'))).toBe(false)
    expect((await kp(w, ['run', 'fake-destructive', '--yes', '--param', `dir=${w.dir}`])).code).toBe(0)
  })
})

describe('confirmation', () => {
  it('without a TTY and without --yes a destructive workflow exits 4 before doing anything', async () => {
    const w = world()

    const result = await kp(w, ['run', 'fake-destructive', '--param', `dir=${w.dir}`])

    expect(result.code).toBe(4)
    expect(result.stderr).toContain('needs confirmation, and there is no terminal to ask on')
    expect(result.stderr).toContain('--yes')
    expect(existsSync(path.join(w.dir, 'destroyed.txt'))).toBe(false)
    expect(existsSync(w.stateDir)).toBe(false)
  })

  it('with --yes it runs', async () => {
    const w = world()
    const result = await kp(w, ['run', 'fake-destructive', '--yes', '--param', `dir=${w.dir}`])
    expect(result.code).toBe(0)
    expect(readFileSync(path.join(w.dir, 'destroyed.txt'), 'utf8')).toBe('gone\n')
  })
})

describe('signals', () => {
  it('SIGINT during a unit: exit 130, the unit interrupted, the lock released, and resume finishes', async () => {
    const w = world()
    const {child, done} = startFake(w, 'sleepMs=150')
    await until(() => unitStatus(w, 'step-2@a') === 'running', 'step-2 running')
    child.kill('SIGINT')
    const result = await done

    expect(result.code).toBe(130)
    expect(result.stderr).toContain('Interrupted.')
    expect(result.stderr).toMatch(/kp resume \S+/)
    const journal = journals(w)[0]!
    expect(journal.status).toBe('interrupted')
    expect(journal.steps.find((s) => s.id === 'step-2')!.units.map((u) => u.status)).toContain('interrupted')
    expect(existsSync(path.join(w.stateDir, 'locks', 'testlab.lock'))).toBe(false)

    const resumed = await kp(w, ['resume', journal.runId])
    expect(resumed.code).toBe(0)
    expect(countEach(effects(w))).toEqual(exactlyOnce)
  })
})

describe('failures', () => {
  it('a failed step exits 1 naming its runbook section and the resume command; resume finishes', async () => {
    const w = world()

    const failed = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`, '--param', 'failOnce=step-3@b'])

    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('Error: Step "Install the packages" failed: b: step-3@b failed on purpose')
    expect(failed.stderr).toContain('Runbook: test/fixtures/workflows/fake.md § Install the packages')
    expect(failed.stderr).not.toMatch(/^\s+at /m)
    const runId = /kp resume (\S+)"/.exec(failed.stderr)?.[1]
    expect(runId).toBeDefined()

    const json = await kp(w, ['resume', '--dry-run', '--json'])
    expect(parseEnvelope(json.stdout).ok).toBe(true)
    const resumed = await kp(w, ['resume', runId!, '--json'])
    expect(resumed.code).toBe(0)
    expect(parseEnvelope<{runId: string}>(resumed.stdout).result?.runId).toBe(runId)
    expect(countEach(effects(w))).toEqual(exactlyOnce)
  })

  it('an exception thrown from a callback fails the run: exit 1, journal failed, lock released, no stack; resume finishes', async () => {
    const w = world()

    const crashed = await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`, '--param', 'crashInCallback=step-2@b'])

    expect(crashed.code).toBe(1)
    expect(crashed.stderr).toContain('step-2@b crashed in a callback')
    expect(crashed.stderr).not.toMatch(/^\s+at /m)
    expect(existsSync(path.join(w.stateDir, 'locks'))
      ? readdirSync(path.join(w.stateDir, 'locks')).filter((f) => f.endsWith('.lock'))
      : []).toEqual([])
    const [journal] = journals(w)
    expect(journal?.status).toBe('failed')
    expect(journal?.error?.message).toContain('crashed in a callback')
    const resumed = await kp(w, ['resume', journal!.runId])
    expect(resumed.code).toBe(0)
    expect(countEach(effects(w))).toEqual(exactlyOnce)
  })

  it('--json puts the failure in the envelope with its exit code, run id and runbook', async () => {
    const w = world()
    const failed = await kp(w, ['run', 'fake', '--json', '--param', `dir=${w.dir}`, '--param', 'failOnce=step-1@a'])
    const envelope = parseEnvelope(failed.stdout)
    expect(failed.code).toBe(1)
    expect(envelope).toMatchObject({command: 'run', error: {exitCode: 1, kind: 'step-failed', runbook: 'test/fixtures/workflows/fake.md § Prepare the targets'}, ok: false})
    expect(envelope.error?.runId).toMatch(/^\d{8}-\d{6}-[0-9a-f]{4}$/)
  })
})

describe('runs and runbooks', () => {
  it('kp runs show and kp runbook report each step of the last run', async () => {
    const w = world()
    await kp(w, ['run', 'fake', '--param', `dir=${w.dir}`, '--param', 'failOnce=step-4@a'])

    const show = await kp(w, ['runs', 'show'])
    expect(show.code).toBe(0)
    expect(show.stdout).toMatch(/4\. \[done\] Install the packages \(step-3\)/)
    expect(show.stdout).toMatch(/5\. \[failed\] Restart the services \(step-4\)/)
    expect(show.stdout).toContain('a: failed')
    expect(show.stdout).toContain('error: step-4@a failed on purpose')

    const runbook = await kp(w, ['runbook', 'fake'])
    expect(runbook.stdout).toContain('## Install the packages  [done]')
    expect(runbook.stdout).toContain('## Restart the services  [failed]')
    expect(runbook.stdout).toContain('## Verify the result  [pending]')
  })
})

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name)
      const st = statSync(p)
      if (st.isDirectory()) walk(p)
      else out[path.relative(dir, p)] = `${st.mtimeMs}:${readFileSync(p, 'utf8')}`
    }
  }

  walk(dir)
  return out
}
