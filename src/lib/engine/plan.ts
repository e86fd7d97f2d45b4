import type {ChalkInstance} from 'chalk'

import {stdoutColour} from '../colour.js'
import type {LoadedConfig} from '../config/load.js'
import {errorMessage} from '../errors.js'
import {openRun, type RunScope} from './context.js'
import {RunLog} from './run-log.js'
import {type AnyStep, type AnyWorkflow, type Params, rollingGroup} from './types.js'

export interface PlannedUnit {
  /** What the unit would change; empty when it would change nothing. */
  changes: string[]
  /** Why it could not be planned (a dry run cannot see the effect of an earlier step). */
  note?: string
  reason?: string
  target?: string
  verdict: 'already-done' | 'gathers-facts' | 'would-run'
}

export interface Plan {
  dryRun: true
  steps: Array<{destructive: boolean; id: string; title: string; units: PlannedUnit[]}>
  workflow: string
}

export interface PlanRequest {
  acceptNewHostKeys?: boolean
  config: LoadedConfig
  params: Params
  stateDir: string
  workflow: AnyWorkflow
}

/**
 * The plan comes from the same steps that run: facts are gathered for real (they are read-only),
 * each unit's check decides whether it would run, and its changes come from `plan` or from
 * rehearsing `run` with every mutation recorded instead of made. Nothing is written: no journal,
 * no lock, no log. The connections it opened are closed when it is done.
 */
export async function planWorkflow(req: PlanRequest): Promise<Plan> {
  const log = new RunLog(undefined)
  const facts = req.workflow.initialFacts() as Record<string, unknown>
  const scope = openRun({...req, dryRun: true, facts, log, signal: new AbortController().signal})
  try {
    return await planSteps(req.workflow, scope)
  } finally {
    await scope.close()
  }
}

async function planSteps(workflow: AnyWorkflow, scope: RunScope<Record<string, unknown>, Params>): Promise<Plan> {
  const plan: Plan = {dryRun: true, steps: [], workflow: workflow.name}
  for (let i = 0; i < workflow.steps.length; ) {
    const group = rollingGroup(workflow.steps, i)
    const steps = group.length > 0 ? group : [workflow.steps[i]!]
    const planned = steps.map((step) => ({destructive: Boolean(step.destructive), id: step.id, title: step.title, units: [] as PlannedUnit[]}))
    if (group.length > 0) {
      // Target by target, as it would run: a step's plan sees the facts its target's first steps gathered.
      for (const target of await group[0]!.targets!(scope.run)) {
        for (const [k, step] of group.entries()) planned[k]!.units.push(await planUnit(scope, step, target))
      }
    } else {
      const step = steps[0]!
      const targets: Array<string | undefined> = step.targets ? await step.targets(scope.run) : [undefined]
      for (const target of targets) planned[0]!.units.push(await planUnit(scope, step, target))
    }

    plan.steps.push(...planned)
    i += steps.length
  }

  return plan
}

async function planUnit(scope: RunScope<Record<string, unknown>, Params>, step: AnyStep, target: string | undefined): Promise<PlannedUnit> {
  const {ctx, outcome} = scope.unit(target, {scope: step.id})
  const unit: PlannedUnit = {changes: [], verdict: 'would-run', ...(target === undefined ? {} : {target})}
  if (step.gathersFacts) {
    await step.run(ctx)
    unit.verdict = 'gathers-facts'
    return unit
  }

  // A check that needs what earlier steps would make (a VM to log in to) cannot answer yet:
  // the unit would run, and its plan says what it would do.
  const done = step.check
    ? await Promise.resolve(step.check(ctx)).catch((error: unknown) => {
        unit.note = `cannot check before the earlier steps ran (${errorMessage(error)})`
        return false
      })
    : false
  if (done) {
    unit.verdict = 'already-done'
    unit.reason = typeof done === 'string' ? done : 'already done'
  } else if (step.plan) {
    unit.changes = await step.plan(ctx)
  } else {
    try {
      await step.run(ctx)
    } catch (error) {
      unit.note = `cannot rehearse: ${errorMessage(error)}`
    }

    unit.changes = outcome.planned
  }

  return unit
}

/** The would-change lines stand out in colour (printed on stdout), a destructive step in red. */
export function formatPlan(plan: Plan, title: string, colour: ChalkInstance = stdoutColour()): string {
  const lines = [`Plan for ${title} (dry run: nothing was changed)`, '']
  plan.steps.forEach((step, i) => {
    lines.push(`${i + 1}. ${step.title}${step.destructive ? colour.red('  [destructive]') : ''}`)
    for (const unit of step.units) {
      const who = unit.target ? `${unit.target}: ` : ''
      if (unit.verdict === 'gathers-facts') lines.push(`     ${who}read-only`)
      else if (unit.verdict === 'already-done') lines.push(`     ${who}already done (${unit.reason})`)
      else if (unit.changes.length === 0) lines.push(`     ${who}${unit.note ?? 'no change'}`)
      else for (const change of unit.changes) lines.push(colour.yellow(`     ${who}would ${change}`))
    }
  })
  const count = plan.steps.reduce((n, s) => n + s.units.filter((u) => u.verdict === 'would-run' && u.changes.length > 0).length, 0)
  lines.push('', `${count} unit(s) would change something.`)
  return lines.join('\n')
}
