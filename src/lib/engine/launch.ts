import {RefusedError} from '../errors.js'
import type {Journal} from './journal.js'
import {formatPlan, type Plan, planWorkflow} from './plan.js'
import {chooseRenderer} from './renderer.js'
import {executeWorkflow, type RunResult} from './runner.js'
import {assertCanConfirm, confirm} from './confirm.js'
import {isDestructive, type Params} from './types.js'

/** What a command hands the engine: its flags, its config file, and how to talk to the operator. */
export interface LaunchContext {
  argv: string[]
  commandLine: string
  configPath: string
  dryRun: boolean
  interactive: boolean
  json: boolean
  log: (text: string) => void
  onClose: (fn: () => Promise<void> | void) => void
  stateDir: string
  verbose: boolean
  yes: boolean
}

export interface LaunchRequest {
  /** Resume: the config file changed since the run began, and the operator says that is fine. */
  allowConfigChange?: boolean
  params: Params
  resume?: Journal
  workflow: string
}

/**
 * The one path from a command to a run: config, then plan (for --dry-run and for confirming a
 * destructive run, from the same steps that will run), then the run itself.
 */
export async function launch(lc: LaunchContext, req: LaunchRequest): Promise<Plan | RunResult> {
  // eslint-disable-next-line no-restricted-syntax -- removed by the run-context change
  const [{loadWorkflow}, {loadConfig}] = await Promise.all([import('../workflows/index.js'), import('../config/load.js')])
  const workflow = await loadWorkflow(req.workflow)
  const loaded = await loadConfig(lc.configPath, {resolveSecrets: Boolean(workflow.secrets)})
  if (req.resume?.configHash && req.resume.configHash !== loaded.hash && !req.allowConfigChange) {
    throw new RefusedError(`${loaded.path} changed since run ${req.resume.runId} began.`, {
      hint: 'Resuming with a different configuration may not converge. Check the change, then resume with --allow-config-change, or start a new run.',
    })
  }

  const base = {config: loaded, configDir: loaded.dir, onClose: lc.onClose, params: req.params, stateDir: lc.stateDir, workflow}
  if (lc.dryRun) {
    const plan = await planWorkflow(base)
    lc.log(formatPlan(plan, `${workflow.title} (${workflow.name})`))
    return plan
  }

  if (isDestructive(workflow)) {
    // Refuse before touching anything when nobody can answer.
    assertCanConfirm(`${workflow.title} (destructive)`, lc)
    if (!lc.yes) {
      lc.log(formatPlan(await planWorkflow(base), `${workflow.title} (${workflow.name})`))
      if (!(await confirm(`Go ahead with ${workflow.title.toLowerCase()}?`, lc))) {
        throw new RefusedError('Cancelled at the confirmation; nothing was changed.')
      }
    }
  }

  return executeWorkflow({
    argv: lc.argv,
    cluster: loaded.config.cluster.name,
    command: lc.commandLine,
    config: {dir: loaded.dir, hash: loaded.hash, loaded, path: loaded.path},
    onClose: lc.onClose,
    params: req.params,
    renderer: chooseRenderer({json: lc.json, tty: Boolean(process.stdout.isTTY), verbose: lc.verbose}),
    resume: req.resume,
    stateDir: lc.stateDir,
    workflow,
  })
}
