import type {LoadedConfig} from '../config/load.js'
import {redact} from '../redact.js'
import type {RunLog} from './run-log.js'
import type {Params, RunContext, UnitContext} from './types.js'

export interface RunContextInit<F, P extends Params> {
  config?: LoadedConfig
  configDir?: string
  dryRun: boolean
  facts: F
  log: RunLog
  onClose: (fn: () => Promise<void> | void) => void
  params: P
  signal: AbortSignal
  stateDir?: string
}

export function makeRunContext<F, P extends Params>(init: RunContextInit<F, P>): RunContext<F, P> {
  return {
    config: init.config,
    configDir: init.configDir,
    dryRun: init.dryRun,
    facts: init.facts,
    log: (message) => init.log.write('run', message),
    onClose: init.onClose,
    params: init.params,
    signal: init.signal,
    stateDir: init.stateDir,
  }
}

export interface UnitHooks {
  /** Lines for the renderer, besides the log. */
  output?: (line: string) => void
  preState?: Record<string, unknown>
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
export function makeUnitContext<F, P extends Params>(
  run: RunContext<F, P>,
  log: RunLog,
  target: string | undefined,
  hooks: UnitHooks,
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
    recordPreState(state: Record<string, unknown>) {
      if (preState !== undefined || run.dryRun) return
      preState = state
      hooks.savePreState?.(state)
    },
    target,
  }
  return {ctx, outcome}
}
