/**
 * The fake API server's way into a real etcd: etcd 3.4's v3 JSON gateway (`POST /v3/kv/range`,
 * `/v3/kv/txn`; keys and values base64) over node:https with the client certificate kubeadm gives
 * the apiserver, keep-alive connections, and the endpoints asked for again before each request so
 * members that join or leave are seen. Keys are the real apiserver's (`/registry/pods/<ns>/<name>`,
 * nodes under `/registry/minions`, Services under `/registry/services/specs`), values the object's JSON.
 * Failures carry the message kube-apiserver would put in its 500 Status: etcd's own (`etcdserver:
 * request timed out`), `context deadline exceeded` when no answer came in time, or gRPC's
 * `rpc error: code = Unavailable …` when no endpoint could be reached.
 */
import {Agent, request} from 'node:https'
import type {TLSSocket} from 'node:tls'

import {RESOURCES, type ResourceDef} from './discovery.js'
import type {KubeObject} from './types.js'

export interface EtcdOptions {
  /** Client URLs (`https://10.77.0.11:2379`), asked for before each use. */
  endpoints: () => string[]
  /** PEM: the etcd CA, and the apiserver's etcd client certificate and key. */
  ca: string
  cert: string
  key: string
  /**
   * Per request; default 10000 ms, longer than etcd's own request timeout (7 s with the default
   * election timeout) so a lost quorum answers `etcdserver: request timed out` as on a real cluster.
   */
  requestTimeoutMs?: number
}

export interface EtcdMemberHealth {
  endpoint: string
  error?: string
  healthy: boolean
}

/** A write of one key: the object's JSON, or undefined to delete it. */
export interface EtcdWrite {
  key: string
  value?: string
}

/** What etcd (or the way to it) answered instead of success; the message is what the apiserver shows. */
export class EtcdError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'EtcdError'
  }
}

const PREFIX = '/registry/'
/** Where the real apiserver keeps a resource when it differs from the resource name. */
const KEY_PREFIXES: Record<string, string> = {nodes: 'minions', services: 'services/specs'}
/** etcd's default `--max-txn-ops`; a larger change is sent as several transactions. */
const MAX_TXN_OPS = 128
/** Under etcd's default `--max-request-bytes` (1.5 MiB) with room for base64 and JSON. */
const MAX_TXN_BYTES = 900 * 1024
const PAGE = 500
/** How long a member may take to accept a connection before the next endpoint is tried. */
const CONNECT_TIMEOUT_MS = 2000

const b64 = (text: string) => Buffer.from(text).toString('base64')
const unb64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8')

export function etcdKey(def: Pick<ResourceDef, 'name'>, namespace: string | undefined, name: string): string {
  const resource = KEY_PREFIXES[def.name] ?? def.name
  return `${PREFIX}${resource}/${namespace ? `${namespace}/` : ''}${name}`
}

/** The resource, namespace and name of a `/registry/…` key, or undefined for keys the fake does not serve. */
export function parseEtcdKey(key: string): {def: ResourceDef; name: string; namespace?: string} | undefined {
  if (!key.startsWith(PREFIX)) return undefined
  const rest = key.slice(PREFIX.length)
  for (const def of RESOURCES) {
    const prefix = `${KEY_PREFIXES[def.name] ?? def.name}/`
    if (!rest.startsWith(prefix)) continue
    const parts = rest.slice(prefix.length).split('/')
    if (def.namespaced && parts.length === 2 && parts[0] && parts[1]) return {def, name: parts[1], namespace: parts[0]}
    if (!def.namespaced && parts.length === 1 && parts[0]) return {def, name: parts[0]}
  }
  return undefined
}

interface RangeAnswer {
  header?: {revision?: string}
  kvs?: Array<{key?: string; mod_revision?: string; value?: string}>
  more?: boolean
}

export class EtcdClient {
  private readonly agent: Agent
  private readonly timeoutMs: number
  /** The endpoint that answered last; tried first next time, as the gRPC balancer sticks to one. */
  private preferred?: string

  constructor(private readonly options: EtcdOptions) {
    this.agent = new Agent({ca: options.ca, cert: options.cert, keepAlive: true, key: options.key, maxSockets: 8})
    this.timeoutMs = options.requestTimeoutMs ?? 10_000
  }

  close(): void {
    this.agent.destroy()
  }

  /**
   * Every object under /registry/, paged (`limit`), all pages at the first page's revision so the
   * cluster is read as one snapshot. Keys the fake does not know are left out.
   */
  async loadAll(): Promise<{objects: Array<{def: ResourceDef; name: string; namespace?: string; object: KubeObject}>; revision: number}> {
    const objects: Array<{def: ResourceDef; name: string; namespace?: string; object: KubeObject}> = []
    let from = PREFIX
    let revision: string | undefined
    for (;;) {
      const body: Record<string, unknown> = {key: b64(from), limit: PAGE, range_end: b64('/registry0')}
      if (revision) body.revision = revision
      const answer = (await this.call('/v3/kv/range', body)) as RangeAnswer
      revision ??= answer.header?.revision ?? '0'
      for (const kv of answer.kvs ?? []) {
        const key = unb64(kv.key)
        const where = parseEtcdKey(key)
        if (!where) continue
        try {
          objects.push({...where, object: JSON.parse(unb64(kv.value)) as KubeObject})
        } catch {
          // Not JSON (a real apiserver's protobuf, or a hand-written value): not an object the fake can serve.
        }
      }
      const last = answer.kvs?.at(-1)?.key
      if (!answer.more || !last) break
      from = `${unb64(last)}\0`
    }
    return {objects, revision: Number(revision ?? 0)}
  }

  /**
   * Commit writes in as few transactions as etcd's limits allow; `done` is told after each one, so a
   * failure part way leaves the caller knowing exactly which keys etcd holds.
   */
  async commit(writes: readonly EtcdWrite[], done: (count: number) => void): Promise<void> {
    let ops: unknown[] = []
    let bytes = 0
    const send = async () => {
      if (ops.length === 0) return
      await this.call('/v3/kv/txn', {success: ops})
      done(ops.length)
      ops = []
      bytes = 0
    }
    for (const write of writes) {
      const size = write.key.length + (write.value?.length ?? 0)
      if (ops.length >= MAX_TXN_OPS || (ops.length > 0 && bytes + size > MAX_TXN_BYTES)) await send()
      ops.push(write.value === undefined ? {request_delete_range: {key: b64(write.key)}} : {request_put: {key: b64(write.key), value: b64(write.value)}})
      bytes += size
    }
    await send()
  }

  /** A linearizable read of one key on each endpoint, as `etcdctl endpoint health` does: it needs the quorum. */
  async health(timeoutMs = Math.min(this.timeoutMs, 1000)): Promise<EtcdMemberHealth[]> {
    return Promise.all(
      this.options.endpoints().map(async (endpoint) => {
        try {
          await this.post(endpoint, '/v3/kv/range', {key: b64('health')}, timeoutMs)
          return {endpoint, healthy: true}
        } catch (error) {
          return {endpoint, error: (error as Error).message, healthy: false}
        }
      }),
    )
  }

  /**
   * One request, tried on each endpoint in turn while the failure is about reaching it (refused,
   * reset, TLS); an answer from etcd itself (no leader, timed out, too large) is final, as the gRPC
   * client would not resend a request etcd may have applied.
   */
  private async call(apiPath: string, body: unknown): Promise<unknown> {
    const endpoints = this.options.endpoints()
    if (endpoints.length === 0) throw new EtcdError('rpc error: code = Unavailable desc = no etcd endpoints configured')
    const ordered = this.preferred && endpoints.includes(this.preferred) ? [this.preferred, ...endpoints.filter((e) => e !== this.preferred)] : endpoints
    let last: Error | undefined
    for (const endpoint of ordered) {
      try {
        const answer = await this.post(endpoint, apiPath, body, this.timeoutMs)
        this.preferred = endpoint
        return answer
      } catch (error) {
        if (!(error instanceof UnreachableError)) throw error
        last = error
      }
    }
    throw new EtcdError(`rpc error: code = Unavailable desc = ${last?.message ?? 'no endpoint answered'}`)
  }

  private post(endpoint: string, apiPath: string, body: unknown, timeoutMs: number): Promise<unknown> {
    const url = new URL(apiPath, endpoint)
    const text = JSON.stringify(body)
    return new Promise((resolve, reject) => {
      let answered = false
      const req = request(
        {agent: this.agent, headers: {'Content-Length': Buffer.byteLength(text), 'Content-Type': 'application/json'}, host: url.hostname, method: 'POST', path: url.pathname, port: url.port},
        (res) => {
          answered = true
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('error', reject)
          res.on('end', () => {
            const raw = Buffer.concat(chunks).toString('utf8')
            let parsed: {error?: string; message?: string} = {}
            try {
              parsed = JSON.parse(raw) as typeof parsed
            } catch {
              // a proxy's or an old gateway's plain-text answer
            }
            if (res.statusCode === 200) resolve(parsed)
            else reject(new EtcdError(parsed.error ?? parsed.message ?? `etcd answered ${res.statusCode}: ${raw.slice(0, 200)}`))
          })
        },
      )
      // A member whose VM is gone never answers the connect: the next endpoint gets its turn after
      // CONNECT_TIMEOUT_MS rather than after the whole request timeout.
      let connected = false
      req.on('socket', (socket: TLSSocket) => {
        if (req.reusedSocket || !socket.connecting) connected = true
        else socket.once('secureConnect', () => (connected = true))
      })
      const connectTimer = setTimeout(() => {
        if (connected) return
        req.destroy()
        reject(new UnreachableError(`connection error: desc = "transport: Error while dialing dial tcp ${url.host}: i/o timeout"`))
      }, Math.min(CONNECT_TIMEOUT_MS, timeoutMs))
      // The apiserver's etcd client gives up at its context's deadline with exactly this message.
      const timer = setTimeout(() => {
        req.destroy()
        reject(new EtcdError('context deadline exceeded'))
      }, timeoutMs)
      req.on('close', () => {
        clearTimeout(timer)
        clearTimeout(connectTimer)
      })
      req.on('error', (error: NodeJS.ErrnoException) => {
        if (answered) reject(new EtcdError(error.message))
        else reject(new UnreachableError(`connection error: desc = "transport: Error while dialing dial tcp ${url.host}: ${error.code ?? error.message}"`))
      })
      req.end(text)
    })
  }
}

/** No connection to this endpoint: the next one may still answer. */
class UnreachableError extends EtcdError {}
