/**
 * `kp upgrade plan`'s run: the connections assessUpgrade needs (one Kubernetes connection, one SSH
 * connection per node, opened on first use and closed with the command) without a journal or a
 * lock, since nothing changes. Never prompts: an unknown host key is refused, as in kp health.
 */
import {loadConfig} from '../config/load.js'
import {findNode} from '../config/nodes.js'
import {errorMessage, InterruptedError, KpError} from '../errors.js'
import type {Kube} from '../kube/types.js'
import type {SshPool} from '../ssh/types.js'
import {type AssessOptions, assessUpgrade, type UpgradeAssessment} from './assess.js'

/** Blockers present: what kp upgrade cluster would refuse with (RefusedError's code). */
export const EXIT_BLOCKED = 4
/** The cluster could not be assessed (the API did not answer, or answered an error), as kp health's UNKNOWN. */
export const EXIT_UNKNOWN = 3

export interface PlanOptions extends AssessOptions {
  configPath: string
  stateDir: string
  log?: (line: string) => void
  onClose: (fn: () => Promise<void> | void) => void
  signal: AbortSignal
}

export interface PlanReport extends UpgradeAssessment {
  cluster: string
  exitCode: number
}

/** A GET that gets no answer is retried once; the plan is interactive, not a wait. */
const RETRY = {baseMs: 200, maxMs: 1000, tries: 2}

export async function planUpgrade(options: PlanOptions): Promise<PlanReport> {
  const loaded = await loadConfig(options.configPath)
  const say = options.log ?? (() => undefined)
  let kube: Promise<Kube> | undefined
  let pool: Promise<SshPool> | undefined
  const ctx = {
    config: loaded,
    kube: () => {
      kube ??= import('../kube/from-config.js').then(async ({kubeFromConfig}) => {
        const k = await kubeFromConfig(loaded, options.stateDir, {log: say, plainReads: true, requestTimeoutMs: 20_000, retry: RETRY, signal: options.signal})
        options.onClose(() => k.close())
        return k
      })
      return kube
    },
    log: say,
    signal: options.signal,
    async ssh(node: string) {
      const [{createSshPool}, {poolOptionsFromConfig, targetOf}] = await Promise.all([import('../ssh/index.js'), import('../ssh/from-config.js')])
      pool ??= Promise.resolve(createSshPool(poolOptionsFromConfig(loaded.config, {log: (scope, line) => say(`${scope}: ${line}`), signal: options.signal, stateDir: options.stateDir}))).then((p) => {
        options.onClose(() => p.closeAll())
        return p
      })
      return (await pool).session(targetOf(loaded.config, findNode(loaded.config, node)))
    },
  }
  try {
    const assessment = await assessUpgrade(ctx, options)
    return {cluster: loaded.config.cluster.name, ...assessment, exitCode: assessment.blockers.length > 0 ? EXIT_BLOCKED : 0}
  } catch (error) {
    if (options.signal.aborted) throw new InterruptedError('interrupted: nothing was changed')
    if (error instanceof KpError && (error.kind === 'usage' || error.kind === 'config')) throw error
    throw new KpError('kubernetes', EXIT_UNKNOWN, `cannot assess the upgrade of ${loaded.config.cluster.name}: ${errorMessage(error).split('\n')[0]}`, {
      cause: error,
      hint: 'kp health says what does not answer; nothing was changed',
    })
  }
}
