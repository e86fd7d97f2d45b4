/**
 * The Proxmox adapter: `Pve` (types.ts) over proxmox-api's typed paths, with kp's own transport
 * (transport.ts) for TLS pinning, retries and typed errors. Every call that starts a task waits for it,
 * and every call says whether it may be sent again after an unclear answer (`this.call(safety)`).
 */
import {type Proxmox, proxmoxApi} from 'proxmox-api'
import type {Agent} from 'undici'

import {ConfigError} from '../errors.js'
import {registerSecret} from '../redact.js'
import {type CloneOutcome, recoverClone} from './clone-recovery.js'
import {isDigestMismatch, ProxmoxError, ProxmoxTaskError} from './errors.js'
import {waitForTask} from './tasks.js'
import {trustingAgent} from './tls.js'
import {DEFAULT_RETRY, type RetryPolicy, type RetrySafety, Transport} from './transport.js'
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
  /** Tries of a call that may be sent again (transport.ts RetrySafety); default 6, 250 ms doubling, at most 4 s apart. */
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

/** Proxmox's form of a value: `virtio=BC:…,bridge=vmbr0` for `virtio,bridge=vmbr0`, sshkeys URL-encoded. */
function valueHolds(have: number | string | undefined, want: number | string): boolean {
  if (have === undefined) return false
  const [h, w] = [String(have).trim(), String(want).trim()]
  if (h === w) return true
  try {
    if (decodeURIComponent(h) === decodeURIComponent(w)) return true
  } catch {
    // not URL-encoded
  }

  const parts = new Map(h.split(',').map((part) => [part.split('=')[0], part.includes('=') ? part.slice(part.indexOf('=') + 1) : undefined] as const))
  return w.split(',').every((part) => {
    const eq = part.indexOf('=')
    return eq < 0 ? parts.has(part) : parts.get(part.slice(0, eq)) === part.slice(eq + 1)
  })
}

/** Whether a config shows every change of `params` made (deleted keys gone). */
function configHolds(config: PveVmConfig, params: PveConfigParams): boolean {
  return Object.entries(params).every(([key, value]) =>
    key === 'delete' ? String(value).split(/[,;\s]+/).filter(Boolean).every((k) => config[k] === undefined) : valueHolds(config[key], value),
  )
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
  private readonly engines = new Map<RetrySafety, Api>()
  /** Clones this client started and saw through: not the unknown clone a failed POST may have started. */
  private readonly ownClones = new Set<string>()

  constructor(
    private readonly transport: Transport,
    private readonly agent: Agent,
    private readonly options: ConnectOptions,
  ) {}

  /** Closes the kept-alive connections; calls after this fail. */
  close(): Promise<void> {
    return this.agent.close()
  }

  /**
   * proxmox-api's typed paths for one call, which declares what may happen after an answer that does
   * not say whether the call was carried out (RetrySafety in transport.ts).
   */
  private call(safety: RetrySafety): Api {
    let api = this.engines.get(safety)
    if (!api) {
      api = proxmoxApi(this.transport.engine(safety))
      this.engines.set(safety, api)
    }

    return api
  }

  private vm(safety: RetrySafety, node: string, vmid: number) {
    return this.call(safety).nodes.$(node).qemu.$(vmid)
  }

  /**
   * A call that answers a UPID (or null when nothing had to be done, as PUT config may), and its task.
   * A task that failed on Proxmox's own lock did nothing, so the call is made again (bounded).
   */
  private async run(node: string, start: () => Promise<string | null>, timeoutMs?: number): Promise<PveTaskResult | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        const upid = await start()
        return typeof upid === 'string' && upid !== '' ? await this.waitOn(node, upid, timeoutMs) : undefined
      } catch (error) {
        if (!(error instanceof ProxmoxTaskError) || !error.busy || attempt >= this.transport.tries) throw error
        await this.transport.pause(attempt)
      }
    }
  }

  private waitOn(node: string, upid: string, timeoutMs = this.options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS): Promise<PveTaskResult> {
    return waitForTask(this.transport, node, upid, {signal: this.options.signal, timeoutMs})
  }

  async version(): Promise<{release: string; version: string}> {
    const {release, version} = await this.call('read').version.$get()
    return {release, version}
  }

  /** QEMU VMs only: containers share the id space but kp never manages them. */
  async vms(): Promise<PveVmSummary[]> {
    const resources = (await this.call('read').cluster.resources.$get({type: 'vm'})) as ResourceEntry[]
    return resources
      .filter((r) => r.type === 'qemu' && r.vmid !== undefined)
      .map((r) => ({lock: r.lock, name: r.name, node: r.node ?? '', status: r.status ?? 'unknown', tags: r.tags, template: Boolean(r.template), vmid: r.vmid ?? 0}))
  }

  async vmConfig(node: string, vmid: number): Promise<PveVmConfig> {
    return this.vm('read', node, vmid).config.$get()
  }

  async setConfig(node: string, vmid: number, params: PveConfigParams, options: {digest?: string} = {}): Promise<void> {
    const {digest} = options
    const body = {...params, ...(digest === undefined ? {} : {digest})} as ConfigPost
    if (digest === undefined) {
      await this.run(node, () => this.vm('once', node, vmid).config.$post(body))
      return
    }

    // With its digest a change cannot apply twice: a second try after one that went through is refused.
    let retried = false
    const api = proxmoxApi(this.transport.engine('repeatable', () => (retried = true)))
    try {
      await this.run(node, () => api.nodes.$(node).qemu.$(vmid).config.$post(body))
    } catch (error) {
      // Refused for the digest after a lost answer: the first try went through if the config now holds our values.
      if (!retried || !(error instanceof ProxmoxError) || !isDigestMismatch(error.message)) throw error
      if (!configHolds(await this.vmConfig(node, vmid), params)) throw error
    }
  }

  /**
   * Clones and waits. A POST that failed unclearly is never simply sent again: kp looks for the clone
   * (clone-recovery.ts) and sends it again only once it has shown that no clone to that VM id exists,
   * runs or started since; a clone whose task failed on Proxmox's lock did nothing and is made again.
   */
  async clone(node: string, templateVmid: number, options: PveCloneOptions): Promise<PveTaskResult> {
    const {description, full, name, newid, pool, storage, target} = options
    for (let attempt = 1; ; attempt++) {
      const sentAt = this.transport.serverNow()
      let upid: string
      try {
        upid = await this.vm('once', node, templateVmid).clone.$post({description, full, name, newid, pool, storage, target})
      } catch (error) {
        if (!(error instanceof ProxmoxError) || !error.transient) throw error
        const outcome = await this.recoverClone(node, templateVmid, options, error, sentAt)
        if ('result' in outcome) return outcome.result
        if (attempt >= this.transport.tries) {
          error.message += `; no clone of template ${templateVmid} to VM ${newid} was started (${attempt} tries)`
          throw error
        }

        this.options.log?.(`clone of template ${templateVmid} to VM ${newid}: ${error.message}; no clone started, so cloning again`)
        await this.transport.pause(attempt)
        continue
      }

      try {
        const result = await this.waitOn(node, upid)
        this.ownClones.add(upid)
        return result
      } catch (error) {
        if (!(error instanceof ProxmoxTaskError) || !error.busy || attempt >= this.transport.tries) throw error
        this.ownClones.add(upid)
        await this.transport.pause(attempt)
      }
    }
  }

  private recoverClone(node: string, templateVmid: number, options: PveCloneOptions, error: ProxmoxError, sentAt: number): Promise<CloneOutcome> {
    // Task start times are whole seconds on the host's clock; sentAt underestimates it (Date headers truncate).
    const since = Math.floor(sentAt / 1000)
    return recoverClone(
      {
        name: options.name,
        newid: options.newid,
        probe: {
          clonesSincePost: () => this.clonesSince(node, templateVmid, since),
          configIfExists: () => this.configIfExists(node, options.newid),
          finishedClone: () => this.finishedClone(node, templateVmid, since - 60),
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

  private async clonesSince(node: string, templateVmid: number, since: number): Promise<PveTaskSummary[]> {
    const tasks = await this.call('read').nodes.$(node).tasks.$get({limit: 50, since, source: 'all', typefilter: 'qmclone', vmid: templateVmid})
    return tasks.filter((t) => !this.ownClones.has(t.upid)).map((t) => ({status: t.status, type: t.type, upid: t.upid}))
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
    const tasks = await this.call('read').nodes.$(node).tasks.$get({limit: 20, since, source: 'archive', typefilter: 'qmclone', vmid: templateVmid})
    const newest = tasks.find((t) => t.status === 'OK')
    return newest ? {exitstatus: 'OK', upid: newest.upid} : undefined
  }

  async resize(node: string, vmid: number, disk: string, size: string): Promise<void> {
    // 8.3 answers a UPID; older releases resize synchronously and answer null. Growing to an absolute
    // size twice changes nothing the second time (qemu-server returns when the size is reached); `+10G` would.
    const safety = size.startsWith('+') ? 'once' : 'repeatable'
    await this.run(node, () => this.vm(safety, node, vmid).resize.$put({disk: disk as Proxmox.Tdisk_1, size}))
  }

  /**
   * A start whose answer was lost may have started the VM: kp looks before sending it again. A start
   * task still running is waited for; a VM already running is started; only a VM that stands still
   * with no start under way gets the POST again (bounded, like every retry).
   */
  async start(node: string, vmid: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.run(node, () => this.vm('once', node, vmid).status.start.$post())
        return
      } catch (error) {
        if (!(error instanceof ProxmoxError) || error instanceof ProxmoxTaskError || !error.transient || attempt >= this.transport.tries) throw error
        await this.transport.pause(attempt)
        const starting = (await this.runningTasks(node, vmid)).find((t) => t.type === 'qmstart')
        if (starting) await this.waitOn(node, starting.upid)
        if ((await this.status(node, vmid)).status === 'running') return
      }
    }
  }

  async shutdown(node: string, vmid: number, timeoutSeconds: number): Promise<void> {
    const timeoutMs = Math.max(this.options.taskTimeoutMs ?? DEFAULT_TASK_TIMEOUT_MS, timeoutSeconds * 1000 + SHUTDOWN_MARGIN_MS)
    await this.run(node, () => this.vm('once', node, vmid).status.shutdown.$post({forceStop: true, timeout: timeoutSeconds}), timeoutMs)
  }

  async stop(node: string, vmid: number): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).status.stop.$post())
  }

  async reboot(node: string, vmid: number): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).status.reboot.$post())
  }

  async pending(node: string, vmid: number): Promise<string[]> {
    const items = (await this.vm('read', node, vmid).pending.$get()) as Array<{delete?: number; key: string; pending?: unknown}>
    return items.filter((item) => item.pending !== undefined || Boolean(item.delete)).map((item) => item.key)
  }

  async status(node: string, vmid: number): Promise<{lock?: string; qmpstatus?: string; status: string}> {
    const current = await this.vm('read', node, vmid).status.current.$get()
    return {lock: current.lock, qmpstatus: current.qmpstatus, status: current.status}
  }

  async agentPing(node: string, vmid: number): Promise<boolean> {
    try {
      // A POST that only asks whether the agent answers: as safe to repeat as a GET.
      await this.vm('read', node, vmid).agent.ping.$post()
      return true
    } catch (error) {
      if (error instanceof ProxmoxError && error.status === 500 && AGENT_NOT_READY.test(error.message)) return false
      throw error
    }
  }

  async agentInterfaces(node: string, vmid: number): Promise<PveGuestInterface[]> {
    const answer = (await this.vm('read', node, vmid).agent['network-get-interfaces'].$get()) as {result?: PveGuestInterface[]}
    return answer.result ?? []
  }

  /** Refuses a truncated answer (over 16 MiB): half a file is worse than none. */
  async agentFileRead(node: string, vmid: number, file: string): Promise<string> {
    const answer = await this.vm('read', node, vmid).agent['file-read'].$get({file})
    if (answer.truncated) throw new ProxmoxError(`reading ${file} in VM ${vmid} through the guest agent: the file is larger than the agent returns (truncated)`)
    return answer.content
  }

  /** Without Proxmox's `current` pseudo-entry ("You are here!"). */
  async snapshots(node: string, vmid: number): Promise<PveSnapshot[]> {
    const list = (await this.vm('read', node, vmid).snapshot.$get()) as Array<PveSnapshot & {name: string}>
    return list
      .filter((s) => s.name !== 'current')
      .map((s) => ({description: s.description, name: s.name, parent: s.parent, snaptime: s.snaptime, vmstate: s.vmstate}))
  }

  async snapshot(node: string, vmid: number, name: string, description?: string): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).snapshot.$post({description, snapname: name}))
  }

  async rollback(node: string, vmid: number, name: string): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).snapshot.$(name).rollback.$post())
  }

  async deleteSnapshot(node: string, vmid: number, name: string): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).snapshot.$(name).$delete())
  }

  async destroy(node: string, vmid: number): Promise<void> {
    await this.run(node, () => this.vm('once', node, vmid).$delete({'destroy-unreferenced-disks': true, purge: true}))
  }

  async runningTasks(node: string, vmid?: number): Promise<PveTaskSummary[]> {
    const tasks = await this.call('read').nodes.$(node).tasks.$get({source: 'active', vmid})
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
