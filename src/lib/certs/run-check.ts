/**
 * `kp certs check`: reads every node of kp.yaml (or those named) at once, one SSH connection each,
 * and judges what it read. Read-only: no lock, no journal, never prompts (an unknown host key is
 * refused, as in kp health), so cron can run it.
 */
import {loadConfig} from '../config/load.js'
import {selectNodes} from '../config/nodes.js'
import {KpError} from '../errors.js'
import {EXIT_CODE} from '../health/status.js'
import {poolOptionsFromConfig, targetOf} from '../ssh/from-config.js'
import {createSshPool} from '../ssh/index.js'
import {buildReport, type CertsReport, readNode} from './check.js'

export interface CertsCheckOptions {
  configPath: string
  stateDir: string
  /** --node; every node when empty. */
  nodes: readonly string[]
  log?: (line: string) => void
  onClose: (fn: () => Promise<void> | void) => void
  signal?: AbortSignal
}

export async function checkCertificates(options: CertsCheckOptions): Promise<CertsReport> {
  const now = new Date()
  // As kp health: a kp.yaml kp cannot use leaves the certificates unknown (3), not a usage error.
  const {config} = await loadConfig(options.configPath).catch((error: unknown) => {
    if (error instanceof KpError && error.kind === 'config') throw new KpError('config', EXIT_CODE.UNKNOWN, error.message, error.hint ? {hint: error.hint} : {})
    throw error
  })
  const nodes = selectNodes(config, options.nodes)
  const log = options.log ? (scope: string, line: string) => options.log!(`${scope}: ${line}`) : undefined
  const pool = createSshPool(poolOptionsFromConfig(config, {stateDir: options.stateDir, ...(log ? {log} : {}), ...(options.signal ? {signal: options.signal} : {})}))
  options.onClose(() => pool.closeAll())
  const readings = await Promise.all(nodes.map((node) => readNode(node, {session: () => pool.session(targetOf(config, node)), ...(options.signal ? {signal: options.signal} : {})})))
  return buildReport(config, readings, now)
}
