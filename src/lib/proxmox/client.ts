/**
 * The Proxmox adapter: `Pve` (types.ts) over proxmox-api's typed paths, with kp's own transport
 * (transport.ts) for TLS pinning, retries and typed errors. Every call that starts a task waits for it.
 */
import {type Proxmox, proxmoxApi} from 'proxmox-api'
import type {Agent} from 'undici'

import {ConfigError} from '../errors.js'
import {registerSecret} from '../redact.js'
import {recoverClone} from './clone-recovery.js'
import {ProxmoxError} from './errors.js'
import {waitForTask} from './tasks.js'
import {trustingAgent} from './tls.js'
import {DEFAULT_RETRY, type RetryPolicy, Transport} from './transport.js'
import type {
  Pve,
  PveCloneOptions,
  PveConfigParams,
  PveGuestInterface,
  PveSnapshot,
  PveTaskResult,
  PveTaskSummary,
  PveVmConfig,
  PveVmSummary,
} from './types.js'

export {ProxmoxError, ProxmoxTaskError, KP_PRIVILEGES} from './errors.js'

export interface ConnectOptions {
  /** `https://10.77.0.1:8006` (kp.yaml proxmox.endpoint), without /api2/json. */
  endpoint: string
  /** `USER@REALM!TOKENID`. */
  tokenId: string
  tokenSecret: string
  /** SHA-256 of the server certificate, `AB:CD:…` (case and colons optional): exactly that certificate is accepted. */
  fingerprint?: string
  /** PEM file holding the CA to verify the chain against (the cluster's /etc/pve/pve-root-ca.pem). */
  caFile?: string
  /** No verification at all; warns through `warn` on every connect. */
  insecureSkipTlsVerify?: boolean
  /** Aborts requests and waits; they then throw InterruptedError. */
  signal?: AbortSignal
  /** One line per request: `METHOD path status ms`; never the secret. */
  log?: (line: string) => void
  warn?: (line: string) => void
  /** Per waited task; default 10 min. */
  taskTimeoutMs?: number
  /** Per HTTP request; default 30 s. */
  requestTimeoutMs?: number
  /** GET retries on transient failures; default 4 tries, 250 ms doubling, at most 2 s apart. */
  retry?: Partial<RetryPolicy>
  /** How long to look for a clone after its POST failed unclearly; default 5 s. */
  cloneRecoveryMs?: number
}

export type PveConnection = Pve & {close(): Promise<void>}

const DEFAULT_TASK_TIMEOUT_MS = 10 * 60_000
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
const DEFAULT_CLONE_RECOVERY_MS = 5000
/** Proxmox's shutdown task waits `timeout` seconds before forcing; give it that plus a margin. */
const SHUTDOWN_MARGIN_MS = 60_000

/**
 * Reasons the guest agent cannot answer yet: agent not running, VM not running, or a QMP command that
 * failed or timed out while the guest boots. `No QEMU guest agent configured` is not among them — that
 * one never gets better by waiting.
 */
const AGENT_NOT_READY = /guest agent is not running|is not running|qmp command .* failed|got timeout/i

type Api = Proxmox.Api
type ConfigPost = Parameters<ReturnType<ReturnType<Api['nodes']['$']>['qemu']['$']>['config']['$post']>[0]

/** An entry of `GET /cluster/resources?type=vm` (proxmox-api's typing lacks `lock` and `tags`). */
interface ResourceEntry {
  lock?: string
  name?: string
  node?: string
  status?: string
  tags?: string
  template?: number
  type?: string
  vmid?: number
}

function checkOptions(options: ConnectOptions): string {
  if (!/^[^@!\s]+@[^@!\s]+![^@!\s]+$/.test(options.tokenId)) {
    throw new ConfigError(`proxmox.tokenId must look like USER@REALM!TOKENID (e.g. kp@pve!automation), got ${JSON.stringify(options.tokenId)}`)
  }

  if (options.tokenSecret === '') throw new ConfigError('the Proxmox token secret is empty (proxmox.tokenSecret)')
  let url: URL
  try {
    url = new URL(options.endpoint)
  } catch {
    throw new ConfigError(`proxmox.endpoint is not a URL: ${JSON.stringify(options.endpoint)} (expected https://HOST:8006)`)
  }

  if (url.protocol !== 'https:') throw new ConfigError(`proxmox.endpoint must use https: ${options.endpoint}`)
  return url.origin
}

class PveClient implements PveConnection {
  private readonly api: Api

  constructor(
    private readonly transport: Transport,
    private readonly agent: Agent,
    private readonly options: ConnectOptions,
  ) {
    this.api = proxmoxApi(transport)
  }

  /** Closes the kept-alive connections; calls after this fail. */
  close(): Promise<void> {
    return this.agent.close()
  }

  private vm(node: string, vmid: number) {
    return this.api.nodes.$(node).qemu.$(vmid)
  }

  /** A call that answers a UPID (or null when nothing had to be done, as PUT config may). */
  private async run(node: string, started: Promise<string | null>, timeoutMs?: number): Promise<PveTaskResult | undefined> {
    const upid = await started
    return typeof upid === 'string' && upid !== '' ? this.waitOn(node, upid, timeoutMs) : undefined
  }

  private waitOn(node: string, upid: string, timeoutMs = this.options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS): Promise<PveTaskResult> {
    return waitForTask(this.transport, node, upid, {signal: this.options.signal, timeoutMs})
  }

  async version(): Promise<{release: string; version: string}> {
    const {release, version} = await this.api.version.$get()
    return {release, version}
  }

  /** QEMU VMs only: containers share the id space but kp never manages them. */
  async vms(): Promise<PveVmSummary[]> {
    const resources = (await this.api.cluster.resources.$get({type: 'vm'})) as ResourceEntry[]
    return resources
      .filter((r) => r.type === 'qemu' && r.vmid !== undefined)
      .map((r) => ({lock: r.lock, name: r.name, node: r.node ?? '', status: r.status ?? 'unknown', tags: r.tags, template: Boolean(r.template), vmid: r.vmid ?? 0}))
  }

  async vmConfig(node: string, vmid: number): Promise<PveVmConfig> {
    return this.vm(node, vmid).config.$get()
  }

  async setConfig(node: string, vmid: number, params: PveConfigParams, options: {digest?: string} = {}): Promise<void> {
    const body = {...params, ...(options.digest === undefined ? {} : {digest: options.digest})} as ConfigPost
    await this.run(node, this.vm(node, vmid).config.$post(body))
  }

  async clone(node: string, templateVmid: number, options: PveCloneOptions): Promise<PveTaskResult> {
    const {description, full, name, newid, pool, storage, target} = options
    let upid: string
    try {
      upid = await this.vm(node, templateVmid).clone.$post({description, full, name, newid, pool, storage, target})
    } catch (error) {
      if (!(error instanceof ProxmoxError) || !error.transient) throw error
      return this.recoverClone(node, templateVmid, options, error)
    }

    return this.waitOn(node, upid)
  }

  private recoverClone(node: string, templateVmid: number, options: PveCloneOptions, error: ProxmoxError): Promise<PveTaskResult> {
    const since = Math.floor(Date.now() / 1000) - 60
    return recoverClone(
      {
        name: options.name,
        newid: options.newid,
        probe: {
          configIfExists: () => this.configIfExists(node, options.newid),
          finishedClone: () => this.finishedClone(node, templateVmid, since),
          runningTasks: () => this.runningTasks(node, templateVmid),
          waitTask: (upid) => this.waitOn(node, upid),
        },
        signal: this.options.signal,
        templateVmid,
        windowMs: this.options.cloneRecoveryMs ?? DEFAULT_CLONE_RECOVERY_MS,
      },
      error,
    )
  }

  private async configIfExists(node: string, vmid: number): Promise<PveVmConfig | undefined> {
    try {
      return await this.vmConfig(node, vmid)
    } catch (error) {
      if (error instanceof ProxmoxError && error.status === 500 && /does not exist/.test(error.message)) return undefined
      throw error
    }
  }

  private async finishedClone(node: string, templateVmid: number, since: number): Promise<PveTaskResult | undefined> {
    const tasks = await this.api.nodes.$(node).tasks.$get({limit: 20, since, source: 'archive', typefilter: 'qmclone', vmid: templateVmid})
    const newest = tasks.find((t) => t.status === 'OK')
    return newest ? {exitstatus: 'OK', upid: newest.upid} : undefined
  }

  async resize(node: string, vmid: number, disk: string, size: string): Promise<void> {
    // 8.3 answers a UPID; older releases resize synchronously and answer null.
    await this.run(node, this.vm(node, vmid).resize.$put({disk: disk as Proxmox.Tdisk_1, size}))
  }

  async start(node: string, vmid: number): Promise<void> {
    await this.run(node, this.vm(node, vmid).status.start.$post())
  }

  async shutdown(node: string, vmid: number, timeoutSeconds: number): Promise<void> {
    const timeoutMs = Math.max(this.options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS, timeoutSeconds * 1000 + SHUTDOWN_MARGIN_MS)
    await this.run(node, this.vm(node, vmid).status.shutdown.$post({forceStop: true, timeout: timeoutSeconds}), timeoutMs)
  }

  async stop(node: string, vmid: number): Promise<void> {
    await this.run(node, this.vm(node, vmid).status.stop.$post())
  }

  async reboot(node: string, vmid: number): Promise<void> {
    await this.run(node, this.vm(node, vmid).status.reboot.$post())
  }

  async pending(node: string, vmid: number): Promise<string[]> {
    const items = (await this.vm(node, vmid).pending.$get()) as Array<{delete?: number; key: string; pending?: unknown}>
    return items.filter((item) => item.pending !== undefined || Boolean(item.delete)).map((item) => item.key)
  }

  async status(node: string, vmid: number): Promise<{lock?: string; qmpstatus?: string; status: string}> {
    const current = await this.vm(node, vmid).status.current.$get()
    return {lock: current.lock, qmpstatus: current.qmpstatus, status: current.status}
  }

  async agentPing(node: string, vmid: number): Promise<boolean> {
    try {
      await this.vm(node, vmid).agent.ping.$post()
      return true
    } catch (error) {
      if (error instanceof ProxmoxError && error.status === 500 && AGENT_NOT_READY.test(error.message)) return false
      throw error
    }
  }

  async agentInterfaces(node: string, vmid: number): Promise<PveGuestInterface[]> {
    const answer = (await this.vm(node, vmid).agent['network-get-interfaces'].$get()) as {result?: PveGuestInterface[]}
    return answer.result ?? []
  }

  /** Refuses a truncated answer (over 16 MiB): half a file is worse than none. */
  async agentFileRead(node: string, vmid: number, file: string): Promise<string> {
    const answer = await this.vm(node, vmid).agent['file-read'].$get({file})
    if (answer.truncated) throw new ProxmoxError(`reading ${file} in VM ${vmid} through the guest agent: the file is larger than the agent returns (truncated)`)
    return answer.content
  }

  /** Without Proxmox's `current` pseudo-entry ("You are here!"). */
  async snapshots(node: string, vmid: number): Promise<PveSnapshot[]> {
    const list = (await this.vm(node, vmid).snapshot.$get()) as Array<PveSnapshot & {name: string}>
    return list
      .filter((s) => s.name !== 'current')
      .map((s) => ({description: s.description, name: s.name, parent: s.parent, snaptime: s.snaptime, vmstate: s.vmstate}))
  }

  async snapshot(node: string, vmid: number, name: string, description?: string): Promise<void> {
    await this.run(node, this.vm(node, vmid).snapshot.$post({description, snapname: name}))
  }

  async rollback(node: string, vmid: number, name: string): Promise<void> {
    await this.run(node, this.vm(node, vmid).snapshot.$(name).rollback.$post())
  }

  async deleteSnapshot(node: string, vmid: number, name: string): Promise<void> {
    await this.run(node, this.vm(node, vmid).snapshot.$(name).$delete())
  }

  async destroy(node: string, vmid: number): Promise<void> {
    await this.run(node, this.vm(node, vmid).$delete({'destroy-unreferenced-disks': true, purge: true}))
  }

  async runningTasks(node: string, vmid?: number): Promise<PveTaskSummary[]> {
    const tasks = await this.api.nodes.$(node).tasks.$get({source: 'active', vmid})
    return tasks.map((t) => ({status: t.status, type: t.type, upid: t.upid}))
  }

  waitTask(node: string, upid: string): Promise<PveTaskResult> {
    return this.waitOn(node, upid)
  }
}

/**
 * A client for one Proxmox host. Nothing is sent yet: the first call opens the connection and checks
 * the certificate (`version()` is the cheap way to check endpoint, TLS and token at once).
 */
export function connectProxmox(options: ConnectOptions): PveConnection {
  const endpoint = checkOptions(options)
  registerSecret(options.tokenSecret)
  const agent = trustingAgent(endpoint, options, options.warn ?? (() => {}))
  const transport = new Transport({
    agent,
    endpoint,
    log: options.log ?? (() => {}),
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    retry: {...DEFAULT_RETRY, ...options.retry},
    signal: options.signal,
    tokenId: options.tokenId,
    tokenSecret: options.tokenSecret,
  })
  return new PveClient(transport, agent, options)
}
