import type {LoadedConfig} from '../config/load.js'
import {redact} from '../redact.js'
import {RunConnections} from './connections.js'
import type {RunLog} from './run-log.js'
import type {Params, RunContext, UnitContext} from './types.js'

export interface RunContextInit<F, P extends Params> {
  /** --accept-new-host-keys for this run: a choice of the operator's, never a journaled parameter. */
  acceptNewHostKeys?: boolean
  config: LoadedConfig
  dryRun: boolean
  facts: F
  log: RunLog
  params: P
  /** Undefined in a dry run. */
  runId?: string
  signal: AbortSignal
  stateDir: string
}

/** One run: its context, the context of each of its units, and what closes its connections when it ends. */
export interface RunScope<F, P extends Params> {
  /** Call once the run ended, however it ended (the caller's `finally`). */
  close(): Promise<void>
  run: RunContext<F, P>
  unit(target: string | undefined, hooks: UnitHooks): {ctx: UnitContext<F, P>; outcome: UnitOutcome}
}

export function openRun<F, P extends Params>(init: RunContextInit<F, P>): RunScope<F, P> {
  const connections = new RunConnections({acceptNewHostKeys: Boolean(init.acceptNewHostKeys), config: init.config, log: init.log, signal: init.signal, stateDir: init.stateDir})
  const memos = new Map<string, unknown>()
  const log = (message: string): void => init.log.write('run', message)
  const run: RunContext<F, P> = {
    config: init.config,
    dryRun: init.dryRun,
    facts: init.facts,
    kube: () => connections.kube(),
    log,
    memo<T>(key: string, make: () => T): T {
      if (memos.has(key)) return memos.get(key) as T
      const value = make()
      memos.set(key, value)
      if (value instanceof Promise) value.catch(() => memos.get(key) === value && memos.delete(key))
      return value
    },
    params: init.params,
    pve: () => connections.pve(log),
    runId: init.runId ?? 'dry-run',
    signal: init.signal,
    ssh: (node) => connections.ssh(node),
    stateDir: init.stateDir,
  }
  return {
    close: () => connections.close(),
    run,
    // The unit that opens the Proxmox connection shows its warnings (insecure TLS) where it is seen.
    unit: (target, hooks) => makeUnitContext(run, init.log, target, hooks, (say) => connections.pve(say)),
  }
}

export interface UnitHooks {
  /** Lines for the renderer, besides the log. */
  output?: (line: string) => void
  preState?: Record<string, unknown>
  /** Another unit's journaled pre-state (none in a dry run). */
  preStateOf?: (stepId: string, target: string | undefined) => Record<string, unknown> | undefined
  /** Persist pre-state at once (the journal write happens before the first change). */
  savePreState?: (state: Record<string, unknown>) => void
  scope: string
}

export interface UnitOutcome {
  changed: boolean
  /** In a dry run: the descriptions mutate() recorded instead of acting. */
  planned: string[]
}

/**
 * The unit context, and the outcome it collects. Every mutation passes through `mutate`: that is
 * what makes a dry run the same code path as a real one.
 */
function makeUnitContext<F, P extends Params>(
  run: RunContext<F, P>,
  log: RunLog,
  target: string | undefined,
  hooks: UnitHooks,
  pve: (say: (line: string) => void) => ReturnType<RunContext['pve']>,
): {ctx: UnitContext<F, P>; outcome: UnitOutcome} {
  const outcome: UnitOutcome = {changed: false, planned: []}
  let preState = hooks.preState
  const say = (message: string): void => {
    log.write(hooks.scope, message)
    // The screen is a log too: cron mails it, terminals scroll it back.
    hooks.output?.(redact(message))
  }

  const ctx: UnitContext<F, P> = {
    ...run,
    log: say,
    markChanged(changed = true) {
      outcome.changed ||= changed
    },
    async mutate<T>(description: string, fn: () => Promise<T> | T): Promise<T | undefined> {
      if (run.dryRun) {
        outcome.planned.push(description)
        return undefined
      }

      say(description)
      outcome.changed = true
      return fn()
    },
    get preState() {
      return preState
    },
    preStateOf: (stepId, other = target) => hooks.preStateOf?.(stepId, other),
    pve: () => pve(say),
    recordPreState(state: Record<string, unknown>) {
      if (preState !== undefined || run.dryRun) return
      preState = state
      hooks.savePreState?.(state)
    },
    target,
  }
  return {ctx, outcome}
}
