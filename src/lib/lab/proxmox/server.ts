/**
 * A simulated Proxmox VE API server for the lab: HTTPS with the host's own certificates, API-token
 * authentication, the `{data: …}` envelope, schema-driven parameter validation, permission checks,
 * asynchronous tasks with UPIDs, VM locks and real error shapes, backed by a VmBackend that makes the
 * VMs real. Every request goes to a request log (memory and JSON lines) without the token secret.
 */
import {createServer, type Server} from 'node:https'
import type {IncomingMessage, ServerResponse} from 'node:http'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {requestRecorder} from '../fake-server.js'
import {setTimeout as sleep} from 'node:timers/promises'

import type {VmBackend} from '../backend.js'
import {ApiError, messageOf} from './api-error.js'
import {ensureCertificate} from './cert.js'
import {DEFAULT_CI_USER} from './cloud-init.js'
import {FaultState, type Faults, type InjectedError, type Range, seededRandom} from './faults.js'
import type {Handler, Lab, StorageSpec} from './lab.js'
import {FileLocks} from './locks.js'
import {Acl, type TokenPrivileges} from './permissions.js'
import {cloneRoutes} from './routes-clone.js'
import {hostRoutes, TOTAL} from './routes-host.js'
import {vmRoutes} from './routes-vm.js'
import {API_BASE, matchPath, validateParameters} from './schema.js'
import {StateStore, type VmRecord} from './state.js'
import {DEFAULT_TASK_DURATIONS, TaskManager} from './tasks.js'
import {type TemplateSpec, templateConfig} from './vm-config.js'

export interface FakeProxmoxToken {
  /** `user@realm!tokenid`, e.g. `kp@pve!automation`. */
  id: string
  /** All privileges on `/` when absent. */
  privileges?: TokenPrivileges
  secret: string
}

export interface FakeProxmoxOptions {
  /** Delay before answering a failed authentication; the real pveproxy waits 3000 ms. Default 0. */
  authFailureDelayMs?: number
  backend: VmBackend
  /** Where the certificates are kept; beside the state file, else a shared temporary folder. */
  certDir?: string
  /** User cloud-init creates when `ciuser` is not set (the image's default user). */
  defaultCiUser?: string
  faults?: Faults
  host?: string
  /** How long a config change waits for a VM's flock before `can't lock file … - got timeout` (10 s, as qemu-server). */
  lockWaitMs?: number
  nodes?: string[]
  pools?: string[]
  port?: number
  /** JSON lines, one per request; beside the state file by default. */
  requestLogFile?: string
  /** Seed for task durations. */
  seed?: number
  stateFile?: string
  storage?: Array<string | StorageSpec>
  /** Task duration per task type (`qmclone`, `qmstart`…), ms or [min, max]. */
  taskDurations?: Record<string, Range>
  /** Cloud-init templates created at start unless their VM id exists already. */
  templates?: TemplateSpec[]
  tokens: FakeProxmoxToken[]
}

export interface RequestLogEntry {
  /** Total time to answer, latency faults included. */
  durationMs: number
  /** Latency added by a fault. */
  latencyMs: number
  method: string
  /** Query-string or form parameters; the token secret is never among them, `cipassword` is masked. */
  params: Record<string, string>
  /** The path as requested, without the query string. */
  path: string
  /** The schema path template it matched. */
  route?: string
  status: number
  statusText: string
  /** ISO time the request arrived. */
  time: string
  /** The token id (never its secret). */
  tokenId?: string
}

export interface FakeProxmox {
  /** `https://host:port/api2/json`. */
  apiUrl: string
  /** The cluster CA that signed the node certificate (pin it, or the fingerprint). */
  caPem: string
  /**
   * Stop listening. By default waits for running tasks and saves the state; `{abort: true}` simulates
   * a crash: tasks stop where they are and nothing more is written.
   */
  close(options?: {abort?: boolean}): Promise<void>
  /** SHA-256 of the node certificate, `AB:CD:…` as Proxmox shows it. */
  fingerprint: string
  host: string
  port: number
  readonly requestLog: readonly RequestLogEntry[]
  setFaults(faults: Faults): void
  /** `https://host:port`. */
  url: string
  /** A copy of a VM's record, for assertions. */
  vm(vmid: number): VmRecord | undefined
  /** Copies of every VM's record, by VMID (kp lab status). */
  vms(): VmRecord[]
  /** The faults in force now. */
  faults(): Faults
  /** Resolves when no task is running. */
  waitForTasks(): Promise<void>
}

const routes: Record<string, Handler> = {...hostRoutes, ...vmRoutes, ...cloneRoutes}

/** `METHOD /template` of every route the simulated server implements. */
export function implementedRoutes(): string[] {
  return Object.keys(routes).sort()
}

const MAX_BODY = 1024 * 1024

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(new ApiError(413, 'Request Entity Too Large'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function bodyParams(req: IncomingMessage, body: string): Record<string, string> {
  if (body === '') return {}
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type === 'application/json') {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      throw new ApiError(400, 'unable to parse JSON body')
    }
    const out: Record<string, string> = {}
    for (const [key, value] of Object.entries((parsed ?? {}) as Record<string, unknown>)) {
      out[key] = value === true ? '1' : value === false ? '0' : typeof value === 'string' ? value : JSON.stringify(value)
    }
    return out
  }
  if (type === 'application/x-www-form-urlencoded' || type === undefined || type === '') {
    return Object.fromEntries(new URLSearchParams(body))
  }
  throw new ApiError(415, `Unsupported Media Type '${type}'`)
}

/** The reason phrase must stay on one line of printable characters. */
function reason(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?').trim() || 'Error'
}

function send(res: ServerResponse, status: number, statusText: string, body?: unknown): void {
  res.statusCode = status
  res.statusMessage = reason(statusText)
  res.setHeader('Cache-Control', 'max-age=0')
  res.setHeader('Pragma', 'no-cache')
  res.setHeader('Expires', new Date().toUTCString())
  res.setHeader('Server', 'pve-api-daemon/3.0')
  if (body === undefined) {
    res.setHeader('Content-Length', '0')
    res.end()
    return
  }
  const text = JSON.stringify(body)
  res.setHeader('Content-Type', 'application/json;charset=UTF-8')
  res.setHeader('Content-Length', String(Buffer.byteLength(text)))
  res.end(text)
}

/** `Authorization: PVEAPIToken=USER@REALM!TOKENID=SECRET` as pve-http-server extracts it. */
function tokenFromHeader(header: string | undefined): {id: string; secret: string} | undefined {
  const value = /(?:^|\s)PVEAPIToken(?:=| )(\S+)/.exec(header ?? '')?.[1]
  if (!value) return undefined
  let decoded: string
  try {
    decoded = decodeURIComponent(value)
  } catch {
    decoded = value
  }
  const m = /^(.+)=(.+)$/.exec(decoded)
  return m ? {id: m[1] ?? '', secret: m[2] ?? ''} : {id: decoded, secret: ''}
}

/**
 * A handler's `die` is 500 with `{data: null}` (the JSON formatter's envelope); any other status comes
 * from pveproxy itself (a node it cannot reach: 595, 596…, or overload), which answers with no body.
 */
function injectedBody(injected: InjectedError): unknown {
  return injected.status === 500 ? {data: null} : undefined
}

function normalizeStorage(list: Array<string | StorageSpec> | undefined): StorageSpec[] {
  return (list ?? ['local-lvm']).map((s) => (typeof s === 'string' ? {id: s} : s))
}

function defaultCertDir(stateFile: string | undefined): string {
  if (stateFile) return path.join(path.dirname(stateFile), 'certs')
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0
  return path.join(tmpdir(), `kp-fake-proxmox-certs-${uid}`)
}

export async function startFakeProxmox(options: FakeProxmoxOptions): Promise<FakeProxmox> {
  const host = options.host ?? '127.0.0.1'
  const nodes = options.nodes ?? ['pve1']
  const storages = normalizeStorage(options.storage)
  const firstNode = nodes[0] ?? 'pve1'
  const store = StateStore.open(options.stateFile)
  const faults = new FaultState(options.faults)
  const tasks = new TaskManager(store, faults, {
    durations: {...DEFAULT_TASK_DURATIONS, ...options.taskDurations},
    random: seededRandom(options.seed ?? 1),
  })
  const cert = await ensureCertificate(options.certDir ?? defaultCertDir(options.stateFile), host, firstNode)
  const lab: Lab = {
    backend: options.backend,
    defaultCiUser: options.defaultCiUser ?? DEFAULT_CI_USER,
    faults,
    fingerprint: cert.fingerprint,
    lockWaitMs: options.lockWaitMs ?? 10_000,
    locks: new FileLocks(),
    nodes,
    pools: options.pools ?? [],
    storages,
    store,
    tasks,
  }
  for (const spec of options.templates ?? []) {
    if (store.vm(spec.vmid)) continue
    const storage = spec.storage ?? storages[0]?.id ?? 'local-lvm'
    store.putVm({config: templateConfig(spec, storage), node: spec.node ?? firstNode, pending: {}, pendingDelete: [], running: false, snapshots: {}, vmid: spec.vmid})
  }
  const tokens = new Map(options.tokens.map((t) => [t.id, {acl: new Acl(t.privileges), secret: t.secret}]))
  const requests = requestRecorder<RequestLogEntry>(options.requestLogFile ?? (options.stateFile ? path.join(path.dirname(options.stateFile), 'proxmox-requests.jsonl') : undefined))

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const time = new Date().toISOString()
    const method = (req.method ?? 'GET').toUpperCase()
    const url = new URL(req.url ?? '/', 'https://pve.invalid')
    const fullPath = url.pathname
    const rel = fullPath.startsWith(`${API_BASE}/`) ? fullPath.slice(API_BASE.length) : undefined
    const match = rel === undefined ? undefined : matchPath(rel)
    const entry: RequestLogEntry = {durationMs: 0, latencyMs: 0, method, params: {}, path: fullPath, status: 0, statusText: '', time}
    if (match) entry.route = match.template
    let injected: InjectedError | undefined
    const finish = (status: number, statusText: string, body?: unknown) => {
      // An error injected `after`: the work is done, the answer is lost on the way.
      if (injected?.after) [status, statusText, body] = [injected.status, injected.message, injectedBody(injected)]
      send(res, status, statusText, body)
      entry.status = status
      entry.statusText = reason(statusText)
      entry.durationMs = Math.round((performance.now() - started) * 10) / 10
      requests.record(entry)
    }
    try {
      const body = method === 'POST' || method === 'PUT' ? await readBody(req) : ''
      const params: Record<string, string> = {...Object.fromEntries(url.searchParams), ...bodyParams(req, body)}
      entry.params = {...params}
      if (entry.params.cipassword !== undefined) entry.params.cipassword = '**********'

      const latency = faults.latencyFor(method, rel ?? fullPath, match?.template)
      if (latency > 0) {
        entry.latencyMs = latency
        await sleep(latency)
      }
      injected = faults.errorFor(method, rel ?? fullPath, match?.template)
      if (injected && !injected.after) return finish(injected.status, injected.message, injectedBody(injected))

      const presented = tokenFromHeader(req.headers.authorization)
      if (!presented) {
        if (options.authFailureDelayMs) await sleep(options.authFailureDelayMs)
        return finish(401, 'No ticket')
      }
      entry.tokenId = presented.id
      const token = tokens.get(presented.id)
      if (!token || token.secret !== presented.secret) {
        if (options.authFailureDelayMs) await sleep(options.authFailureDelayMs)
        return finish(401, 'authentication failure')
      }

      const schema = match?.methods[method]
      const handler = match ? routes[`${method} ${match.template}`] : undefined
      if (!match || !schema || !handler) return finish(501, `Method '${method} ${fullPath}' not implemented`, {data: null})
      const all = {...params, ...match.pathParams}

      const permissions = schema.permissions
      if (permissions?.user !== 'all' && permissions?.check) token.acl.exec(permissions.check, all)
      const node = match.pathParams.node
      if (node !== undefined && !nodes.includes(node)) {
        throw new ApiError(500, `hostname lookup '${node}' failed - failed to get address info for: ${node}: Name or service not known`)
      }
      const errors = validateParameters(schema, all)
      if (Object.keys(errors).length > 0) return finish(400, 'Parameter verification failed.', {data: null, errors})

      const result = await handler({acl: token.acl, lab, params: all, user: presented.id})
      if (result !== null && typeof result === 'object' && TOTAL in result) {
        const {data, [TOTAL]: total} = result as {data: unknown; [TOTAL]: number}
        return finish(200, 'OK', {data, total})
      }
      return finish(200, 'OK', {data: result ?? null})
    } catch (error) {
      if (error instanceof ApiError) {
        return finish(error.status, error.message, error.errors ? {data: null, errors: error.errors} : {data: null})
      }
      return finish(500, messageOf(error), {data: null})
    }
  }

  const server: Server = createServer({cert: cert.certPem, key: cert.keyPem}, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, messageOf(error), {data: null})
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0)
  const url = `https://${host.includes(':') ? `[${host}]` : host}:${port}`
  let closing: Promise<void> | undefined

  return {
    apiUrl: `${url}${API_BASE}`,
    caPem: cert.caPem,
    close(closeOptions = {}) {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        if (closeOptions.abort) {
          store.frozen = true
          tasks.abortAll()
        } else {
          await tasks.idle()
          store.save()
        }
        server.closeAllConnections()
        await closed
      })()
      return closing
    },
    fingerprint: cert.fingerprint,
    host,
    port,
    requestLog: requests.log,
    setFaults: (next) => faults.set(next),
    url,
    vm: (vmid) => {
      const vm = store.vm(vmid)
      return vm ? (JSON.parse(JSON.stringify(vm)) as VmRecord) : undefined
    },
    vms: () => JSON.parse(JSON.stringify(store.allVms())) as VmRecord[],
    faults: () => faults.get(),
    waitForTasks: () => tasks.idle(),
  }
}
