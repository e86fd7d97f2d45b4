/**
 * The connections of one run: the Proxmox API, the Kubernetes API and one SSH connection per node,
 * each opened on first use and closed when the run ends, however it ends. The adapters are imported
 * only then, so a run that needs none of them (and `kp --help`) never loads them.
 */
import type {LoadedConfig} from '../config/load.js'
import {findNode} from '../config/nodes.js'
import type {Kube} from '../kube/types.js'
import type {Pve} from '../proxmox/types.js'
import type {SshPool, SshSession} from '../ssh/types.js'
import {warn} from '../warnings.js'
import type {RunLog} from './run-log.js'

export interface ConnectionOptions {
  /** --accept-new-host-keys, given for this very run. */
  acceptNewHostKeys: boolean
  config: LoadedConfig
  log: RunLog
  signal: AbortSignal
  stateDir: string
}

/** Says what happens while connecting (an insecure TLS warning) where the step that connected can be seen. */
export type Say = (line: string) => void

export class RunConnections {
  private readonly closers: Array<() => Promise<void>> = []
  private kubeConnection: Promise<Kube> | undefined
  private pool: Promise<SshPool> | undefined
  private pveConnection: Promise<Pve> | undefined

  constructor(private readonly options: ConnectionOptions) {}

  /** Last opened, first closed; best effort: the run's own outcome is what the operator needs. */
  async close(): Promise<void> {
    for (const close of this.closers.splice(0).reverse()) await close().catch(() => undefined)
    this.kubeConnection = undefined
    this.pool = undefined
    this.pveConnection = undefined
  }

  kube(): Promise<Kube> {
    const {config, log, signal, stateDir} = this.options
    this.kubeConnection ??= this.opened(async () => {
      const {kubeFromConfig} = await import('../kube/from-config.js')
      const kube = await kubeFromConfig(config, stateDir, {log: (line) => log.write('kubernetes', line), signal})
      this.closers.push(() => kube.close())
      return kube
    }, () => (this.kubeConnection = undefined))
    return this.kubeConnection
  }

  pve(say: Say): Promise<Pve> {
    const {config, log, signal} = this.options
    this.pveConnection ??= this.opened(async () => {
      const {pveFromConfig} = await import('../proxmox/from-config.js')
      const pve = await pveFromConfig(config, {log: (line) => log.write('proxmox', line), signal, warn: (line) => {
        // On stderr and in the --json envelope (the warning channel), and under the step that connected.
        warn(line)
        say(`WARNING: ${line}`)
      }})
      this.closers.push(() => pve.close())
      return pve
    }, () => (this.pveConnection = undefined))
    return this.pveConnection
  }

  async ssh(node: string): Promise<SshSession> {
    const {acceptNewHostKeys, config, log, signal, stateDir} = this.options
    const target = findNode(config.config, node)
    const {targetOf} = await import('../ssh/from-config.js')
    this.pool ??= this.opened(async () => {
      const [{createSshPool}, {poolOptionsFromConfig}] = await Promise.all([import('../ssh/index.js'), import('../ssh/from-config.js')])
      // No prompts mid-run (the task list owns the terminal): unknown keys are refused unless accepted
      // up front; kp vm seed pins them through the guest agent, kp ssh asks on a terminal.
      const pool = createSshPool(poolOptionsFromConfig(config.config, {acceptNewHostKeys, log: (scope, line) => log.write(scope, line), signal, stateDir}))
      this.closers.push(() => pool.closeAll())
      return pool
    }, () => (this.pool = undefined))
    return (await this.pool).session(targetOf(config.config, target))
  }

  /** A connection that failed to open is forgotten, so the next step may try again. */
  private opened<T>(open: () => Promise<T>, forget: () => void): Promise<T> {
    const opening = open()
    opening.catch(forget)
    return opening
  }
}
