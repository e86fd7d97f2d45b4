import {RefusedError} from '../errors.js'
import type {Journal} from './journal.js'
import {formatPlan, type Plan, planWorkflow} from './plan.js'
import {chooseRenderer} from './renderer.js'
import {executeWorkflow, type RunResult} from './runner.js'
import {assertCanConfirm, confirm} from './confirm.js'
import {type AnyWorkflow, isDestructive, type Params, type WorkflowSource} from './types.js'

/** What a command hands the engine: its flags, its config file, and how to talk to the operator. */
export interface LaunchContext {
  argv: string[]
  commandLine: string
  configPath: string
  dryRun: boolean
  interactive: boolean
  json: boolean
  log: (text: string) => void
  stateDir: string
  verbose: boolean
  yes: boolean
}

export interface LaunchRequest {
  /** --accept-new-host-keys: for this run only; a resume must be given it again. */
  acceptNewHostKeys?: boolean
  /** Resume: the config file changed since the run began, and the operator says that is fine. */
  allowConfigChange?: boolean
  params: Params
  resume?: Journal
  /** The workflow, or how to load it: the command knows which; the engine never imports the registry. */
  workflow: WorkflowSource
}

/**
 * The one path from a command to a run: config, then plan (for --dry-run and for confirming a
 * destructive or dangerous run, from the same steps that will run), then the run itself. A resume
 * asks again: an answer given to an earlier attempt is not replayed.
 */
export async function launch(lc: LaunchContext, req: LaunchRequest): Promise<Plan | RunResult> {
  const [workflow, {loadConfig}] = await Promise.all([typeof req.workflow === 'function' ? req.workflow() : req.workflow, import('../config/load.js')])
  const loaded = await loadConfig(lc.configPath, {resolveSecrets: Boolean(workflow.secrets)})
  if (req.resume?.configHash && req.resume.configHash !== loaded.hash && !writtenByRun(req.resume).includes(loaded.hash) && !req.allowConfigChange) {
    throw new RefusedError(`${loaded.path} changed since run ${req.resume.runId} began.`, {
      hint: 'Resuming with a different configuration may not converge. Check the change, then resume with --allow-config-change, or start a new run.',
    })
  }

  const base = {acceptNewHostKeys: req.acceptNewHostKeys, config: loaded, params: req.params, stateDir: lc.stateDir, workflow}
  if (lc.dryRun) {
    const plan = await planWorkflow(base)
    lc.log(formatPlan(plan, `${workflow.title} (${workflow.name})`))
    return plan
  }

  const question = confirmation(workflow, req.params)
  if (question) {
    // Refuse before touching anything when nobody can answer.
    const {runId} = req.resume ?? {}
    const hint = runId ? `Check the plan with "kp resume ${runId} --dry-run", then resume with "kp resume ${runId} --yes".` : undefined
    assertCanConfirm(`${workflow.title} (${question.why})`, lc, hint)
    if (!lc.yes) {
      lc.log(formatPlan(await planWorkflow(base), `${workflow.title} (${workflow.name})`))
      if (!(await confirm(question.ask, lc))) throw new RefusedError('Cancelled at the confirmation; nothing was changed.')
    }
  }

  return executeWorkflow({
    acceptNewHostKeys: req.acceptNewHostKeys,
    argv: lc.argv,
    cluster: loaded.config.cluster.name,
    command: lc.commandLine,
    config: loaded,
    params: req.params,
    renderer: chooseRenderer({json: lc.json, tty: Boolean(process.stdout.isTTY), verbose: lc.verbose}),
    resume: req.resume,
    stateDir: lc.stateDir,
    workflow,
  })
}

/**
 * The config hashes the run's own steps wrote (upgrade-cluster's kp.yaml edit): a unit that edits the
 * config records `writtenConfigHash` in its pre-state before it writes, so a resume accepts that
 * file — and still refuses any other edit.
 */
function writtenByRun(journal: Journal): string[] {
  return journal.steps.flatMap((s) => s.units.map((u) => u.preState?.writtenConfigHash)).filter((h): h is string => typeof h === 'string')
}

/** What to ask before this run: the workflow's own question for these parameters, else whether to go ahead with a destructive one. */
function confirmation(workflow: AnyWorkflow, params: Params): {ask: string; why: string} | undefined {
  const asked = workflow.confirm?.(params)
  if (asked) return {ask: asked, why: `"${asked}"`}
  if (isDestructive(workflow)) return {ask: `Go ahead with ${workflow.title.toLowerCase()}?`, why: 'destructive'}
  return undefined
}
