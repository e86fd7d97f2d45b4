import type {LoadedConfig} from '../config/load.js'
import {setMaxListeners} from 'node:events'
import {hostname} from 'node:os'

import {errorMessage, ExitCode, InterruptedError, KpError, StepFailedError} from '../errors.js'
import {redact} from '../redact.js'
import {onWarning} from '../warnings.js'
import {openRun, type RunScope} from './context.js'
import {journalFile, logFile, newRunId, type Journal, type StepRecord, type UnitRecord, writeJournal} from './journal.js'
import {acquireLock, type LockHolder} from './lock.js'
import {RunLog} from './run-log.js'
import type {RendererChoice} from './renderer.js'
import {runbookReference} from './runbook.js'
import {onInterrupt} from './signals.js'
import {type AnyStep, type AnyWorkflow, type Params, rollingGroup, type RunContext} from './types.js'

/** The thrown error of each failed unit, to keep a refusal's exit code (the journal keeps only the text). */
const unitErrors = new WeakMap<UnitRecord, unknown>()

export interface RunRequest {
  /** --accept-new-host-keys for this run only: never journaled, so never replayed by a resume. */
  acceptNewHostKeys?: boolean
  argv: string[]
  cluster: string
  /** How the operator started it, for the lock and `kp runs list`: "kp vm seed cp1". */
  command: string
  config: LoadedConfig
  params: Params
  renderer: RendererChoice
  /** Continue this journal instead of starting a new run. */
  resume?: Journal
  stateDir: string
  workflow: AnyWorkflow
}

export interface RunResult {
  changed: number
  journalFile: string
  logFile: string
  runId: string
  status: 'done'
  steps: Array<{id: string; status: string; title: string; units: Array<{changed: boolean; durationMs?: number; status: string; target?: string}>}>
  workflow: string
}

const DECLINED = new Set<number>([ExitCode.refused, ExitCode.usage, ExitCode.deadline])

/** How long units get to stop cooperatively after Ctrl-C before they are marked interrupted. */
const INTERRUPT_GRACE_MS = 2000

export async function executeWorkflow(req: RunRequest): Promise<RunResult> {
  const {stateDir, workflow} = req
  const journal = req.resume ? reopen(req.resume) : fresh(req)
  const holder: LockHolder = {cluster: req.cluster, command: req.command, host: hostname(), pid: process.pid, runId: journal.runId, startedAt: new Date().toISOString()}
  const release = acquireLock(stateDir, holder, {takeOverFromRun: req.resume?.runId})
  const save = (): void => writeJournal(stateDir, journal)
  const log = new RunLog(logFile(stateDir, journal.runId))
  // The operator sees warnings on stderr (the base command); the run's log keeps them too.
  const stopLoggingWarnings = onWarning((line) => log.write('run', `WARNING: ${line}`))
  const abort = new AbortController()
  // Every unit's SSH sessions and child processes listen on this one signal.
  setMaxListeners(0, abort.signal)
  const stopped = abortedAfterGrace(abort.signal)
  const scope = openRun({acceptNewHostKeys: req.acceptNewHostKeys, config: req.config, dryRun: false, facts: workflow.initialFacts() as Record<string, unknown>, log, params: journal.params, runId: journal.runId, signal: abort.signal, stateDir})
  const stopListening = onInterrupt({
    first(signal) {
      log.write('run', `received ${signal}: stopping`)
      abort.abort(new InterruptedError(`interrupted by ${signal}`))
    },
    // A second Ctrl-C does not wait for anything: the journal says where we were, then we go.
    second() {
      finish(journal, 'interrupted')
      save()
      release()
      process.exit(130)
    },
  })

  // An exception thrown from an event callback (a socket, a timer) escapes every try/catch and would
  // kill the process with the lock held and the journal saying "running": fail the run the same way
  // a step failure does, then go.
  const crashed = (error: unknown): void => {
    finish(journal, 'failed', error)
    log.write('run', `failed: unexpected error: ${errorMessage(error)}`)
    save()
    release()
    process.stderr.write(`Error: ${redact(errorMessage(error))}\nHint: this is a bug in kp (please report it with the run log ${logFile(stateDir, journal.runId)}). ` +
      `Finish the run with "kp resume ${journal.runId}".\n`)
    process.exit(ExitCode.stepFailed)
  }

  process.on('uncaughtException', crashed)
  process.on('unhandledRejection', crashed)
  try {
    save()
    log.write('run', `${req.resume ? 'resuming' : 'starting'} ${workflow.name} as ${req.command} (run ${journal.runId}, pid ${process.pid})`)
    const {Listr, PRESET_TIMESTAMP} = await import('listr2')
    const base: RunBase = {Listr, PRESET_TIMESTAMP, abort, journal, log, req, run: scope.run, runScope: scope, save, stopped}
    for (let i = 0; i < workflow.steps.length; ) {
      const group = rollingGroup(workflow.steps, i)
      if (group.length > 0) await runRolling(base, group)
      else await runStep(stepRun(base, workflow.steps[i]!))
      i += Math.max(1, group.length)
    }

    finish(journal, 'done')
    log.write('run', 'done')
  } catch (error) {
    const interrupted = abort.signal.aborted
    finish(journal, interrupted ? 'interrupted' : 'failed', error)
    log.write('run', `${interrupted ? 'interrupted' : 'failed'}: ${errorMessage(error)}`)
    throw decorate(interrupted ? new InterruptedError('Interrupted.') : error, journal.runId)
  } finally {
    process.off('uncaughtException', crashed)
    process.off('unhandledRejection', crashed)
    stopLoggingWarnings()
    save()
    release()
    stopListening()
    await scope.close()
  }

  return summarize(journal, stateDir)
}

interface StepRun {
  abort: AbortController
  journal: Journal
  Listr: typeof import('listr2').Listr
  log: RunLog
  PRESET_TIMESTAMP: typeof import('listr2').PRESET_TIMESTAMP
  record: StepRecord
  req: RunRequest
  run: RunContext
  runScope: RunScope<Record<string, unknown>, Params>
  save: () => void
  step: AnyStep
  /** Settles once an interruption's grace period is over. */
  stopped: Promise<void>
}

type RunBase = Omit<StepRun, 'record' | 'step'>

function stepRun(base: RunBase, step: AnyStep): StepRun {
  return {...base, record: base.journal.steps.find((r) => r.id === step.id)!, step}
}

/**
 * A rolling group: target by target, every step of the group on that target before the next one
 * starts. A finished target is passed over whole; a target in progress gathers its facts again
 * and goes on with its first unfinished unit.
 */
async function runRolling(base: RunBase, steps: AnyStep[]): Promise<void> {
  const runs = steps.map((step) => stepRun(base, step))
  if (runs.every((s) => s.record.status === 'done' || s.record.status === 'skipped')) {
    await render(runs[0]!, runs.map((s) => ({skip: `${s.step.title}: done in an earlier attempt`, title: s.step.title})))
    return
  }

  if (base.abort.signal.aborted) throw base.abort.signal.reason
  const targets = await steps[0]!.targets!(base.run)
  for (const s of runs) s.record.status = 'running'
  base.save()
  for (const target of targets) {
    const units = runs.map((s) => unitRecord(s.record, target))
    if (units.every((u) => isFinished(u))) {
      await render(runs[0]!, [{skip: `${target}: done in an earlier attempt`, title: target ?? ''}])
      continue
    }

    const line = base.req.renderer !== 'default'
    const tasks = runs.map((s, k) => ({
      skip: isFinished(units[k]!) && !s.step.gathersFacts ? `${s.step.title}: done in an earlier attempt` : undefined,
      task: (output: (line: string) => void) => runUnit(s, units[k]!, output),
      prefix: target,
      title: line ? `${target}: ${s.step.title}` : s.step.title,
    }))
    const settled = render(runs[0]!, [{stopOnError: true, subtasks: tasks, title: target ?? ''}]).then(
      () => undefined,
      () => undefined,
    )
    await Promise.race([settled, base.stopped])
    if (base.abort.signal.aborted) {
      for (const [k, unit] of units.entries()) {
        if (unit.status !== 'running') continue
        unit.status = 'interrupted'
        runs[k]!.record.status = 'interrupted'
      }

      base.save()
      throw base.abort.signal.reason
    }

    for (const [k, s] of runs.entries()) if (units[k]!.status === 'failed') failStep(s, [units[k]!])
  }

  for (const s of runs) s.record.status = s.record.units.every((u) => u.status === 'skipped') ? 'skipped' : 'done'
  base.save()
}

async function runStep(s: StepRun): Promise<void> {
  const {abort, record, run, save, step} = s
  if ((record.status === 'done' || record.status === 'skipped') && !step.gathersFacts) {
    await render(s, [{skip: `${step.title}: done in an earlier attempt`, title: step.title}])
    return
  }

  if (abort.signal.aborted) throw abort.signal.reason
  const targets: Array<string | undefined> = step.targets ? await step.targets(run) : [undefined]
  const units = targets.map((target) => unitRecord(record, target))
  record.status = 'running'
  save()

  const unitTasks = units.map((unit) => ({
    skip: isFinished(unit) && !step.gathersFacts ? `${unitTitle(s, unit)}: done in an earlier attempt` : undefined,
    task: (output: (line: string) => void) => runUnit(s, unit, output),
    prefix: unit.target,
    title: unitTitle(s, unit),
  }))
  const work = step.targets
    ? render(s, [{subtasks: unitTasks, title: step.title}])
    : render(s, [{...unitTasks[0]!, title: step.title}])
  // Listr's own promise is only for display: the outcome is in the unit records.
  const settled = work.then(
    () => undefined,
    () => undefined,
  )
  await Promise.race([settled, s.stopped])

  if (abort.signal.aborted) {
    for (const unit of units) if (unit.status === 'running') unit.status = 'interrupted'
    record.status = 'interrupted'
    save()
    throw abort.signal.reason
  }

  const failed = units.filter((u) => u.status === 'failed')
  if (failed.length > 0) failStep(s, failed)

  record.status = units.every((u) => u.status === 'skipped') ? 'skipped' : 'done'
  save()
  // Test hook: die like kill -9 exactly at this step boundary, the journal just saved (resume tests).
  if (process.env.KP_TEST_KILL_AFTER_STEP === step.id) process.kill(process.pid, 'SIGKILL')
}

/** Journal the step as failed and throw what the operator reads: the units' errors, hints, and the runbook section. */
function failStep(s: StepRun, failed: UnitRecord[]): never {
  const {record, save, step} = s
  record.status = 'failed'
  save()
  const where = failed.map((u) => (u.target ? `${u.target}: ${u.error}` : u.error)).join('; ')
  const runbook = runbookReference(s.req.workflow, step)
  // A safety refusal, a usage error or the operator's deadline keeps its own exit code (4, 2, 5): the step did not fail, kp declined.
  const declined = failed.map((u) => unitErrors.get(u)).filter((e): e is KpError => e instanceof KpError && DECLINED.has(e.exitCode))
  if (declined.length === failed.length) {
    const first = declined[0]!
    throw new KpError(first.kind, first.exitCode, redact(declined.map((e) => e.message).join('; ')), {hint: first.hint === undefined ? undefined : redact(first.hint), runbook})
  }

  // The units' own hints say what to fix; the runner adds how to finish the run.
  const hints = [...new Set(failed.map((u) => unitErrors.get(u)).filter((e): e is KpError => e instanceof KpError && e.hint !== undefined).map((e) => redact(e.hint!)))]
  throw new StepFailedError(`Step "${step.title}" failed: ${where}`, {hint: hints.length > 0 ? hints.join(' ') : undefined, runbook})
}

async function runUnit(s: StepRun, unit: UnitRecord, output: (line: string) => void): Promise<string | undefined> {
  const {abort, log, runScope, save, step} = s
  // Units that had not started when the run was interrupted stay pending in the journal.
  if (abort.signal.aborted) return 'not started (interrupted)'
  const scope = unit.target ? `${step.id}@${unit.target}` : step.id
  const started = Date.now()
  unit.status = 'running'
  unit.attempts += 1
  unit.startedAt = new Date(started).toISOString()
  delete unit.error
  save()
  const {ctx, outcome} = runScope.unit(unit.target, {
    output,
    preState: unit.preState,
    preStateOf: (stepId, target) => s.journal.steps.find((r) => r.id === stepId)?.units.find((u) => u.target === target)?.preState,
    savePreState(state) {
      unit.preState = state
      save()
    },
    scope,
  })
  try {
    const done = step.check && !step.gathersFacts ? await step.check(ctx) : false
    if (done) {
      unit.status = 'skipped'
      unit.skippedReason = typeof done === 'string' ? done : 'already done'
      log.write(scope, `skipped: ${unit.skippedReason}`)
      return unit.skippedReason
    }

    await step.run(ctx)
    if (abort.signal.aborted) throw abort.signal.reason
    unit.status = 'done'
    log.write(scope, outcome.changed ? 'done (changed)' : 'done (no change)')
    return undefined
  } catch (error) {
    unit.status = abort.signal.aborted ? 'interrupted' : 'failed'
    unit.error = redact(errorMessage(error))
    unitErrors.set(unit, error)
    log.write(scope, `${unit.status}: ${unit.error}`)
    throw error
  } finally {
    unit.changed ||= outcome.changed
    unit.endedAt = new Date().toISOString()
    unit.durationMs = Date.now() - started
    save()
  }
}

interface RenderTask {
  prefix?: string
  /** Subtasks after a failed one do not start (a rolling group's steps on one target). */
  stopOnError?: boolean
  skip?: string
  subtasks?: RenderTask[]
  task?: (output: (line: string) => void) => Promise<string | undefined>
  title: string
}

/** listr2 draws; the engine decides. Each step is its own list so steps stay strictly in order. */
async function render(s: StepRun, tasks: RenderTask[]): Promise<void> {
  const {Listr, PRESET_TIMESTAMP, step} = s
  const toListr = (t: RenderTask): import('listr2').ListrTask => ({
    skip: t.skip ?? false,
    async task(_ctx, task) {
      if (t.subtasks) {
        return task.newListr(t.subtasks.map((sub) => toListr(sub)), {concurrent: t.stopOnError ? false : Math.max(1, step.concurrency ?? 1), exitOnError: Boolean(t.stopOnError)})
      }

      const skipped = await t.task!((line) => {
        // In line mode each line stands alone, so it carries its unit (STYLE: "cp1: draining").
        task.output = s.req.renderer === 'default' || !t.prefix ? line : `${t.prefix}: ${line}`
      }).catch((error: unknown) => {
        // listr2 shows a failed task's message in place of its title: keep the target in view.
        throw new Error(redact(`${t.title}: ${errorMessage(error)}`))
      })
      if (skipped) task.skip(`${t.title}: ${skipped}`)
    },
    title: t.title,
  })
  const list = new Listr(tasks.map((t) => toListr(t)), {
    concurrent: false,
    exitOnError: true,
    registerSignalListeners: false,
    renderer: s.req.renderer,
    rendererOptions: {collapseSubtasks: false, timestamp: PRESET_TIMESTAMP},
  } as never)
  await list.run()
}

/** Nested under its step in the live list, a target is enough; a line of a log needs both. */
function unitTitle(s: StepRun, unit: UnitRecord): string {
  if (unit.target === undefined) return s.step.title
  return s.req.renderer === 'default' ? unit.target : `${unit.target}: ${s.step.title}`
}

function abortedAfterGrace(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const go = (): void => void setTimeout(resolve, INTERRUPT_GRACE_MS).unref()
    if (signal.aborted) go()
    else signal.addEventListener('abort', go, {once: true})
  })
}

function fresh(req: RunRequest): Journal {
  const now = new Date().toISOString()
  return {
    argv: req.argv,
    attempts: [{host: hostname(), pid: process.pid, startedAt: now, status: 'running'}],
    cluster: req.cluster,
    configHash: req.config.hash,
    configPath: req.config.path,
    host: hostname(),
    params: req.params,
    pid: process.pid,
    runId: newRunId(),
    startedAt: now,
    status: 'running',
    steps: req.workflow.steps.map((step) => ({id: step.id, status: 'pending', title: step.title, units: []})),
    updatedAt: now,
    version: 1,
    workflow: req.workflow.name,
  }
}

function reopen(journal: Journal): Journal {
  const now = new Date().toISOString()
  for (const attempt of journal.attempts) if (attempt.status === 'running') attempt.status = 'interrupted'
  journal.attempts.push({host: hostname(), pid: process.pid, startedAt: now, status: 'running'})
  journal.pid = process.pid
  journal.host = hostname()
  journal.status = 'running'
  delete journal.error
  delete journal.finishedAt
  return journal
}

function unitRecord(step: StepRecord, target: string | undefined): UnitRecord {
  let unit = step.units.find((u) => u.target === target)
  if (!unit) {
    unit = {attempts: 0, changed: false, status: 'pending', ...(target === undefined ? {} : {target})}
    step.units.push(unit)
  }

  return unit
}

function isFinished(unit: UnitRecord): boolean {
  return unit.status === 'done' || unit.status === 'skipped'
}

function finish(journal: Journal, status: Journal['status'], error?: unknown): void {
  const now = new Date().toISOString()
  journal.status = status
  journal.finishedAt = now
  const attempt = journal.attempts.at(-1)
  if (attempt) {
    attempt.status = status
    attempt.endedAt = now
  }

  for (const step of journal.steps) {
    for (const unit of step.units) if (unit.status === 'running') unit.status = 'interrupted'
    if (step.status === 'running') step.status = 'interrupted'
  }

  if (error) journal.error = {kind: error instanceof KpError ? error.kind : 'bug', message: redact(errorMessage(error))}
}

function decorate(error: unknown, runId: string): unknown {
  if (error instanceof KpError) {
    error.runId = runId
    error.hint = `${error.hint ? error.hint + ' ' : ''}Finish the run with "kp resume ${runId}"; "kp runs show ${runId}" shows where it stopped.`
  }

  return error
}

function summarize(journal: Journal, stateDir: string): RunResult {
  const steps = journal.steps.map((s) => ({
    id: s.id,
    status: s.status,
    title: s.title,
    units: s.units.map((u) => ({changed: u.changed, durationMs: u.durationMs, status: u.status, ...(u.target === undefined ? {} : {target: u.target})})),
  }))
  return {
    changed: steps.reduce((n, s) => n + s.units.filter((u) => u.changed).length, 0),
    journalFile: journalFile(stateDir, journal.runId),
    logFile: logFile(stateDir, journal.runId),
    runId: journal.runId,
    status: 'done',
    steps,
    workflow: journal.workflow,
  }
}
