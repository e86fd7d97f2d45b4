import {existsSync, unlinkSync, writeFileSync} from 'node:fs'
import path from 'node:path'
import {describe, expect, it} from 'vitest'

import {readJournal} from '../../src/lib/engine/journal.js'
import {lockFile} from '../../src/lib/engine/lock.js'
import {planWorkflow} from '../../src/lib/engine/plan.js'
import {executeWorkflow, type RunRequest} from '../../src/lib/engine/runner.js'
import type {LoadedConfig} from '../../src/lib/config/load.js'
import type {AnyWorkflow, Step} from '../../src/lib/engine/types.js'
import {DeadlineError, KpError} from '../../src/lib/errors.js'
import {tempDir} from '../helpers/cli.js'

type Facts = {seen: string[]}

/** A tiny workflow whose steps record which hooks ran (k0sctl's manager_test). */
function recorder(steps: Array<Partial<Step<Facts>> & {id: string}>): {calls: string[]; workflow: AnyWorkflow} {
  const calls: string[] = []
  const workflow: AnyWorkflow = {
    initialFacts: () => ({seen: []}),
    name: 'recorder',
    runbookDir: '/nonexistent',
    steps: steps.map((s) => ({
      title: s.id,
      ...s,
      run:
        s.run ??
        (async (ctx) => {
          calls.push(`run ${s.id}${ctx.target ? '@' + ctx.target : ''}`)
          await ctx.mutate(`change ${s.id}`, () => calls.push(`mutate ${s.id}${ctx.target ? '@' + ctx.target : ''}`))
        }),
    })),
    title: 'Recorder',
  }
  return {calls, workflow}
}

/** These steps never read it: enough of a loaded kp.yaml for the engine to journal. */
const config = {config: {cluster: {name: 'test'}}, dir: '/nonexistent', hash: 'sha256:test', path: '/nonexistent/kp.yaml'} as unknown as LoadedConfig

function request(workflow: AnyWorkflow, stateDir: string, extra: Partial<RunRequest> = {}): RunRequest {
  return {argv: [], cluster: 'test', command: 'kp test', config, params: {}, renderer: 'silent', stateDir, workflow, ...extra}
}

describe('executeWorkflow', () => {
  it('runs steps in order, fans out over targets, journals every unit done, and releases the lock', async () => {
    const stateDir = tempDir()
    const {calls, workflow} = recorder([{id: 'one'}, {id: 'two', targets: () => ['a', 'b']}])

    const result = await executeWorkflow(request(workflow, stateDir))

    expect(calls).toEqual(['run one', 'mutate one', 'run two@a', 'mutate two@a', 'run two@b', 'mutate two@b'])
    const journal = readJournal(stateDir, result.runId)
    expect(journal.status).toBe('done')
    expect(journal.steps.map((s) => [s.id, s.status, s.units.map((u) => `${u.target ?? '-'}:${u.status}:${u.changed}`)])).toEqual([
      ['one', 'done', ['-:done:true']],
      ['two', 'done', ['a:done:true', 'b:done:true']],
    ])
    expect(result.changed).toBe(3)
    expect(existsSync(lockFile(stateDir, 'test'))).toBe(false)
  })

  it('skips a unit whose check says it is done, records why, and does not run it', async () => {
    const stateDir = tempDir()
    const {calls, workflow} = recorder([{check: (ctx) => (ctx.target === 'a' ? 'already there' : false), id: 'one', targets: () => ['a', 'b']}])

    const result = await executeWorkflow(request(workflow, stateDir))

    expect(calls).toEqual(['run one@b', 'mutate one@b'])
    const units = readJournal(stateDir, result.runId).steps[0]!.units
    expect(units[0]).toMatchObject({changed: false, skippedReason: 'already there', status: 'skipped', target: 'a'})
    expect(units[1]).toMatchObject({changed: true, status: 'done', target: 'b'})
  })

  it('stops at a failed step, journals the error and names the runbook section and the resume command', async () => {
    const stateDir = tempDir()
    const {calls, workflow} = recorder([
      {id: 'one'},
      {
        id: 'two',
        run() {
          throw new Error('disk full')
        },
        title: 'Write the file',
      },
      {id: 'three'},
    ])

    const error = await executeWorkflow(request(workflow, stateDir)).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(KpError)
    const e = error as KpError
    expect(e.exitCode).toBe(1)
    expect(e.message).toContain('Step "Write the file" failed: disk full')
    expect(e.runbook).toBe('/nonexistent/recorder.md § Write the file')
    expect(e.hint).toContain(`kp resume ${e.runId}`)
    expect(calls).toEqual(['run one', 'mutate one'])
    const journal = readJournal(stateDir, e.runId!)
    expect(journal.status).toBe('failed')
    expect(journal.steps.map((s) => s.status)).toEqual(['done', 'failed', 'pending'])
    expect(journal.steps[1]!.units[0]!.error).toBe('disk full')
  })

  it('lets the other units of a parallel step finish when one fails', async () => {
    const stateDir = tempDir()
    const finished: string[] = []
    const {workflow} = recorder([
      {
        concurrency: 3,
        id: 'par',
        async run(ctx) {
          if (ctx.target === 'a') throw new Error('boom')
          await new Promise((r) => setTimeout(r, 50))
          finished.push(ctx.target!)
        },
        targets: () => ['a', 'b', 'c'],
      },
    ])

    await expect(executeWorkflow(request(workflow, stateDir))).rejects.toThrow(/a: boom/)
    expect(finished.sort()).toEqual(['b', 'c'])
  })

  it('on resume skips finished units, re-runs the rest beginning with the check, and keeps the first pre-state', async () => {
    const stateDir = tempDir()
    const marker = path.join(stateDir, 'fail-once')
    writeFileSync(marker, '')
    const preStates: unknown[] = []
    const {calls, workflow} = recorder([
      {id: 'one', targets: () => ['a', 'b']},
      {
        check: () => {
          calls.push('check two')
          return false
        },
        id: 'two',
        async run(ctx) {
          ctx.recordPreState({attempt: existsSync(marker) ? 1 : 2})
          preStates.push(ctx.preState)
          if (existsSync(marker)) {
            await ctx.mutate('remove marker', () => writeFileSync(path.join(stateDir, 'x'), ''))
            throw new Error('first attempt fails')
          }

          calls.push('run two')
        },
      },
    ])
    const first = await executeWorkflow(request(workflow, stateDir)).catch((e: KpError) => e)
    const journal = readJournal(stateDir, (first as KpError).runId!)
    calls.length = 0
    unlinkSync(marker)

    await executeWorkflow(request(workflow, stateDir, {resume: journal}))

    expect(calls).toEqual(['check two', 'run two'])
    expect(preStates).toEqual([{attempt: 1}, {attempt: 1}])
    const after = readJournal(stateDir, journal.runId)
    expect(after.status).toBe('done')
    expect(after.attempts.map((a) => a.status)).toEqual(['failed', 'done'])
    expect(after.steps[1]!.units[0]).toMatchObject({attempts: 2, changed: true, preState: {attempt: 1}, status: 'done'})
  })

  it('always re-runs steps that gather facts, also on resume', async () => {
    const stateDir = tempDir()
    let gathered = 0
    let fail = true
    const {workflow} = recorder([
      {
        gathersFacts: true,
        id: 'facts',
        run(ctx) {
          gathered += 1
          ctx.facts.seen.push('x')
        },
      },
      {
        id: 'use',
        run(ctx) {
          if (ctx.facts.seen.length !== 1) throw new Error('facts missing')
          if (fail) throw new Error('fails once')
        },
      },
    ])
    const first = (await executeWorkflow(request(workflow, stateDir)).catch((e: KpError) => e)) as KpError
    fail = false

    await executeWorkflow(request(workflow, stateDir, {resume: readJournal(stateDir, first.runId!)}))

    expect(gathered).toBe(2)
  })

  it('refuses to start while another run holds the cluster lock', async () => {
    const stateDir = tempDir()
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const {workflow} = recorder([{id: 'slow', run: () => gate}])
    const first = executeWorkflow(request(workflow, stateDir))
    await waitFor(() => existsSync(lockFile(stateDir, 'test')))

    const second = await executeWorkflow(request(recorder([{id: 'other'}]).workflow, stateDir)).catch((e: unknown) => e)

    expect(second).toMatchObject({exitCode: 3, kind: 'locked'})
    expect((second as Error).message).toMatch(/locked by run \S+ \("kp test", pid \d+/)
    release()
    await first
  })
})

describe('a rolling group', () => {
  const nodes = () => ['a', 'b', 'c']

  it('takes each target through every step of the group before the next target starts', async () => {
    const stateDir = tempDir()
    const {calls, workflow} = recorder([
      {id: 'first'},
      {id: 'drain', rolling: true, targets: nodes},
      {id: 'patch', rolling: true, targets: nodes},
      {id: 'last'},
    ])

    const result = await executeWorkflow(request(workflow, stateDir))

    expect(calls.filter((c) => c.startsWith('run'))).toEqual(['run first', 'run drain@a', 'run patch@a', 'run drain@b', 'run patch@b', 'run drain@c', 'run patch@c', 'run last'])
    expect(readJournal(stateDir, result.runId).steps.map((s) => `${s.id}:${s.status}:${s.units.length}`)).toEqual(['first:done:1', 'drain:done:3', 'patch:done:3', 'last:done:1'])
  })

  it('stops at a failure: no later step of that target and no later target starts; resume goes on where it stopped', async () => {
    const stateDir = tempDir()
    let fail = true
    const gathered: string[] = []
    const {calls, workflow} = recorder([
      {gathersFacts: true, id: 'facts', rolling: true, run: (ctx) => void gathered.push(ctx.target!), targets: nodes},
      {id: 'drain', rolling: true, targets: nodes},
      {
        id: 'patch',
        rolling: true,
        run(ctx) {
          calls.push(`run patch@${ctx.target}`)
          if (ctx.target === 'b' && fail) throw new Error('apt failed')
        },
        targets: nodes,
      },
      {id: 'uncordon', rolling: true, targets: nodes},
    ])
    const first = (await executeWorkflow(request(workflow, stateDir)).catch((e: KpError) => e)) as KpError
    expect(first.message).toMatch(/Step "patch" failed: b: apt failed/)
    expect(calls.filter((c) => c.startsWith('run'))).toEqual(['run drain@a', 'run patch@a', 'run uncordon@a', 'run drain@b', 'run patch@b'])
    const journal = readJournal(stateDir, first.runId!)
    expect(journal.steps.map((s) => `${s.id}:${s.status}:${s.units.map((u) => `${u.target}=${u.status}`).join(',')}`)).toEqual([
      // The run ended failed: the group's other steps are marked interrupted (resumable), c never started.
      'facts:interrupted:a=done,b=done',
      'drain:interrupted:a=done,b=done',
      'patch:failed:a=done,b=failed',
      'uncordon:interrupted:a=done,b=pending',
    ])
    calls.length = 0
    gathered.length = 0
    fail = false

    await executeWorkflow(request(workflow, stateDir, {resume: journal}))

    // a is passed over whole, facts included; b gathers its facts again and goes on with the patch.
    expect(gathered).toEqual(['b', 'c'])
    expect(calls.filter((c) => c.startsWith('run'))).toEqual(['run patch@b', 'run uncordon@b', 'run drain@c', 'run patch@c', 'run uncordon@c'])
    expect(readJournal(stateDir, journal.runId).status).toBe('done')
  })

  it("lets a unit read another unit's pre-state, and a deadline stops the run with exit code 5 before the next target", async () => {
    const stateDir = tempDir()
    const seen: unknown[] = []
    const {calls, workflow} = recorder([
      {
        id: 'check',
        rolling: true,
        run(ctx) {
          if (ctx.target === 'c') throw new DeadlineError('not starting c: the deadline passed')
        },
        targets: nodes,
      },
      {id: 'drain', rolling: true, run: (ctx) => ctx.recordPreState({cordoned: ctx.target === 'b'}), targets: nodes},
      {id: 'uncordon', rolling: true, run: (ctx) => void seen.push([ctx.target, ctx.preStateOf('drain'), ctx.preStateOf('drain', 'a')]), targets: nodes},
    ])

    const error = await executeWorkflow(request(workflow, stateDir)).catch((e: unknown) => e)

    expect(error).toMatchObject({exitCode: 5, kind: 'deadline'})
    expect(seen).toEqual([
      ['a', {cordoned: false}, {cordoned: false}],
      ['b', {cordoned: true}, {cordoned: false}],
    ])
    expect(calls).toEqual([])
  })

  it('is planned target by target too', async () => {
    const order: string[] = []
    const {workflow} = recorder([
      {gathersFacts: true, id: 'facts', rolling: true, run: (ctx) => void order.push(`facts@${ctx.target}`), targets: nodes},
      {id: 'drain', plan: (ctx) => (order.push(`drain@${ctx.target}`), [`drain ${ctx.target}`]), rolling: true, targets: nodes},
    ])

    const plan = await planWorkflow({config, params: {}, stateDir: tempDir(), workflow})

    expect(order).toEqual(['facts@a', 'drain@a', 'facts@b', 'drain@b', 'facts@c', 'drain@c'])
    expect(plan.steps[1]!.units.map((u) => u.changes)).toEqual([['drain a'], ['drain b'], ['drain c']])
  })
})

describe('planWorkflow', () => {
  it('rehearses run() through mutate without calling it, honours check and plan, and writes nothing', async () => {
    const stateDir = tempDir()
    const {calls, workflow} = recorder([
      {gathersFacts: true, id: 'facts', run: (ctx) => void ctx.facts.seen.push('fact')},
      {id: 'rehearsed', targets: (ctx) => ctx.facts.seen},
      {check: () => 'nothing to do', id: 'checked'},
      {id: 'planned', plan: () => ['resize disk to 40G']},
    ])

    const plan = await planWorkflow({config, params: {}, stateDir, workflow})

    expect(calls).toEqual(['run rehearsed@fact'])
    expect(plan.steps.map((s) => s.units)).toEqual([
      [{changes: [], verdict: 'gathers-facts'}],
      [{changes: ['change rehearsed'], target: 'fact', verdict: 'would-run'}],
      [{changes: [], reason: 'nothing to do', verdict: 'already-done'}],
      [{changes: ['resize disk to 40G'], verdict: 'would-run'}],
    ])
    expect(existsSync(path.join(stateDir, 'runs'))).toBe(false)
  })
})

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now()
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 10))
  }
}
