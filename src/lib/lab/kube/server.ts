/**
 * The lab's Kubernetes API server: HTTPS with the cluster's own PKI, client-certificate
 * authentication (user from CN, groups from O), legacy discovery, health endpoints, the registry
 * (cluster.ts), controllers on a timer (controllers.ts), faults, persistence and a request log.
 */
import {chmodSync, rmSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse} from 'node:http'
import {createServer, type Server} from 'node:https'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {requestRecorder} from '../fake-server.js'
import {setTimeout as sleep} from 'node:timers/promises'
import type {TLSSocket} from 'node:tls'

import {parse as parseYaml, stringify} from 'yaml'

import {ADMIN_GROUPS, ADMIN_USER, type ClusterPki, ensurePki, issueClientCertificate, type KeyPair} from './certs.js'
import {Cluster, type DeleteOptions, type KubeList, NAMESPACES, SERVICES} from './cluster.js'
import {Controllers} from './controllers.js'
import {apiGroup, apiGroupList, apiResourceList, apiVersions, RESOURCES, type ResourceDef} from './discovery.js'
import {EtcdClient, EtcdError, type EtcdMemberHealth, type EtcdOptions} from './etcd-store.js'
import {type KubeFaults, KubeFaultState} from './faults.js'
import {openApiV3} from './openapi.js'
import {APPLY_PATCH_TYPE, PATCH_TYPES} from './patch.js'
import {parseResourcePath, type ResourceRequest} from './routes.js'
import {addStaticPod, registerNode, type RegisterNodeOptions, seedDemo, type SeedDemoOptions} from './seed.js'
import {ObjectStore} from './state.js'
import {serveWatch} from './watch.js'
import {badRequest, invalidOptions, KubeError, methodNotAllowed, notFoundPath, type StatusBody, unsupportedMediaType} from './status.js'
import {toTable, wantsTable} from './table.js'
import type {KubeObject, Node, Pod} from './types.js'

export interface FakeKubeOptions {
  /** Where the PKI is kept; beside the state file, else a shared temporary folder. */
  certDir?: string
  /** Controller tick in ms (default 500); 0 runs them only on `tick()`. */
  controllerIntervalMs?: number
  /**
   * Keep the objects in this etcd (v3 JSON gateway, client-certificate TLS) instead of the state file:
   * loaded on start, every write committed before it is answered. See README.md (Storage in etcd).
   */
  etcd?: EtcdOptions
  faults?: KubeFaults
  /**
   * A unix socket (made 0600) on which the server also answers plain HTTP, taking the identity from
   * X-Remote-User / X-Remote-Group as kube-apiserver's request-header (front proxy) authentication
   * does: for the lab's kube-apiserver stand-ins, which terminate the clients' TLS. Never trusted on
   * the TLS listener.
   */
  frontProxySocket?: string
  /** `/version`'s gitVersion; v1.31.8 by default. */
  gitVersion?: string
  /** Multiplies pod grace periods (0.01 makes 30 s take 300 ms). Default 1. */
  gracePeriodScale?: number
  host?: string
  port?: number
  /** JSON lines, one per request; beside the state file by default. */
  requestLogFile?: string
  /** Extra subject alternative names of the serving certificate (IPs or DNS names). */
  sans?: string[]
  /** Lifetime of the serving certificate in days (365 by default), to rehearse one that expires soon. */
  servingCertificateDays?: number
  stateFile?: string
}

export interface KubeRequestLogEntry {
  durationMs: number
  groups?: string[]
  latencyMs: number
  method: string
  path: string
  query: Record<string, string>
  status: number
  time: string
  user?: string
}

export interface KubeconfigOptions {
  /** Client certificate groups (O); `kubeadm:cluster-admins`, `system:masters` for the admin. */
  groups?: string[]
  /** Client certificate user (CN); `kubernetes-admin` by default. */
  user?: string
}

export interface FakeKube {
  /** Register a static pod the node's kubelet runs; the server keeps its mirror pod. */
  addStaticPod(node: string, pod: Pod): void
  /** `/version`'s gitVersion from now on (the lab moves it when a kube-apiserver of a new version runs); whether it changed. */
  setGitVersion(gitVersion: string): boolean
  caPem: string
  close(): Promise<void>
  /** Resolves once every change made so far (requests, ticks, lab calls) is in etcd; at once without etcd. */
  committed(): Promise<void>
  /** The lab kubelet says a pod's container runs (or not): a pod whose container is down is unready and backs off, as in a crash loop. */
  containerRunning(namespace: string, name: string, running: boolean): void
  /** Each etcd endpoint's answer to a quorum read, now (not the ~1 s cache the health endpoints use); [] without etcd. */
  etcdHealth(): Promise<EtcdMemberHealth[]>
  faults(): KubeFaults
  /** A copy of an object by resource name (`pods`, `deployments`…), or undefined. */
  get<T extends KubeObject = KubeObject>(resource: string, namespace: string | undefined, name: string): T | undefined
  host: string
  /** Copies of the objects of a resource, in one namespace or all. */
  list<T extends KubeObject = KubeObject>(resource: string, namespace?: string): T[]
  /**
   * The kubelet heartbeat: false makes the node's Ready condition Unknown (and its pods unready) at once (the controllers
   * run). With `'network'` the kubelet runs without a pod network instead (no CNI configuration
   * yet): Ready False `KubeletNotReady` … `cni plugin not initialized`, the `node.kubernetes.io/not-ready`
   * NoSchedule taint, and only host-network pods (static pods, the CNI's own DaemonSet) start and turn Ready.
   */
  nodeReady(name: string, ready: boolean, reason?: 'network'): void
  pki: ClusterPki
  port: number
  registerNode(name: string, options?: RegisterNodeOptions): Node
  /**
   * Read every object from etcd again (after an etcd restore): open watches end, as when an apiserver
   * restarts. Rejects without etcd or when etcd cannot be read.
   */
  reload(): Promise<{objects: number; revision: number}>
  readonly requestLog: readonly KubeRequestLogEntry[]
  seedDemo(options: SeedDemoOptions): void
  setFaults(faults: KubeFaults): void
  /**
   * Present another serving certificate and key on the TLS listener from the next handshake on (the
   * client CA and certificate requests unchanged): the lab's endpoint stands for a load balancer in
   * front of kube-apiservers. False when it is the one presented already; throws on a pair TLS cannot use.
   */
  setServingCertificate(certPem: string, keyPem: string): boolean
  /** Run the controllers once now. */
  tick(): void
  url: string
  /** A kubeconfig with the CA, the server URL and a client certificate (admin by default); mode 0600. */
  writeKubeconfig(file: string, options?: KubeconfigOptions): Promise<string>
  /** The registry, for lab code that needs more than the helpers. */
  cluster: Cluster
}

const MAX_BODY = 3 * 1024 * 1024

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY) {
        reject(new KubeError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'))
        req.destroy()
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function parseJson(text: string): unknown {
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`)
  }
}

/** An apply patch is YAML (JSON is YAML too), decoded as the apiserver's applyPatcher does. */
function parseApplyBody(text: string): unknown {
  try {
    return parseYaml(text) as unknown
  } catch (error) {
    throw badRequest(`error decoding YAML: ${(error as Error).message.split('\n')[0]}`)
  }
}

/** The manager of a write that names none: the User-Agent up to its first `/` (`kubectl`), as managerOrUserAgent. */
function managerOf(query: URLSearchParams, userAgent: string | undefined): string {
  return query.get('fieldManager') || (userAgent ?? '').split('/')[0]!.slice(0, 128)
}

function defaultCertDir(stateFile: string | undefined): string {
  if (stateFile) return path.join(path.dirname(stateFile), 'kube-pki')
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0
  return path.join(tmpdir(), `kp-fake-kube-pki-${uid}`)
}

const HEALTH_CHECKS = ['ping', 'log', 'etcd', 'etcd-readiness', 'informer-sync', 'poststarthook/start-apiserver-admission-initializer', 'poststarthook/generic-apiserver-start-informers', 'poststarthook/start-kube-aggregator-informers', 'poststarthook/apiservice-registration-controller', 'shutdown']

/**
 * `/readyz`, `/livez`, `/healthz` and their per-check paths, as the apiserver's healthz handlers
 * answer: a failing check makes the aggregate 500 with every check listed (verbose or not) and the
 * reason withheld, and its own path 500 `internal server error: …`.
 */
function health(pathname: string, verbose: boolean, failure: (check: string) => string | undefined): {status: number; text: string} | undefined {
  const m = /^\/(readyz|livez|healthz)(?:\/(.+))?$/.exec(pathname)
  if (!m) return undefined
  const kind = m[1] ?? 'healthz'
  const checks = HEALTH_CHECKS.filter((c) => kind === 'readyz' || !['etcd-readiness', 'informer-sync', 'shutdown'].includes(c))
  if (m[2]) {
    if (!checks.includes(m[2])) return undefined
    const reason = failure(m[2])
    return reason ? {status: 500, text: `internal server error: ${reason}\n`} : {status: 200, text: 'ok'}
  }
  const failed = checks.filter((c) => failure(c) !== undefined)
  if (failed.length === 0 && !verbose) return {status: 200, text: 'ok'}
  const lines = checks.map((c) => (failed.includes(c) ? `[-]${c} failed: reason withheld` : `[+]${c} ok`))
  return failed.length === 0 ? {status: 200, text: `${lines.join('\n')}\n${kind} check passed\n`} : {status: 500, text: `${lines.join('\n')}\n${kind} check failed\n`}
}

interface Identity {
  groups: string[]
  user: string
}

// Sockets accepted on the front-proxy listener: only there are X-Remote-* headers an identity.
const frontProxied = new WeakSet<object>()

function identityOf(req: IncomingMessage): Identity | undefined {
  if (frontProxied.has(req.socket)) {
    const user = req.headersDistinct['x-remote-user']?.[0]
    return user ? {groups: [...(req.headersDistinct['x-remote-group'] ?? []), 'system:authenticated'], user} : undefined
  }

  const socket = req.socket as TLSSocket
  if (!socket.authorized) return undefined
  const cert = socket.getPeerCertificate()
  if (!cert?.subject) return undefined
  const cn = cert.subject.CN
  const o = cert.subject.O
  const user = Array.isArray(cn) ? (cn[0] as string) : cn
  if (!user) return undefined
  return {groups: [...(o === undefined ? [] : Array.isArray(o) ? o : [o]), 'system:authenticated'], user}
}

async function listenFrontProxy(socketPath: string, serve: (req: IncomingMessage, res: ServerResponse) => void): Promise<HttpServer> {
  rmSync(socketPath, {force: true})
  const proxied = createHttpServer(serve)
  proxied.on('connection', (socket) => frontProxied.add(socket))
  await new Promise<void>((resolve, reject) => {
    proxied.once('error', reject)
    proxied.listen(socketPath, () => {
      proxied.off('error', reject)
      resolve()
    })
  })
  chmodSync(socketPath, 0o600)
  return proxied
}

export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const host = options.host ?? '127.0.0.1'
  const pki = await ensurePki(options.certDir ?? defaultCertDir(options.stateFile), [host, ...(options.sans ?? [])], {servingDays: options.servingCertificateDays})
  const store = ObjectStore.open(options.stateFile)
  const etcd = options.etcd ? new EtcdClient(options.etcd) : undefined
  if (etcd) {
    store.attachEtcd(etcd)
    await store.load().catch((error: unknown) => {
      etcd.close()
      throw new Error(`the lab's API server could not read its objects from etcd at ${options.etcd?.endpoints().join(', ')}: ${(error as Error).message}`)
    })
  }
  const faults = new KubeFaultState(options.faults)
  const cluster = new Cluster(store, faults, options.gracePeriodScale ?? 1)
  const controllers = new Controllers(cluster)
  for (const ns of ['default', 'kube-node-lease', 'kube-public', 'kube-system']) {
    if (!cluster.find(NAMESPACES, undefined, ns)) cluster.create(NAMESPACES, undefined, {metadata: {labels: {'kubernetes.io/metadata.name': ns}, name: ns}})
  }
  // The apiserver's own Service, first address of the service subnet, as every cluster has it.
  if (!cluster.find(SERVICES, 'default', 'kubernetes')) {
    cluster.create(SERVICES, 'default', {
      metadata: {labels: {component: 'apiserver', provider: 'kubernetes'}, name: 'kubernetes'},
      spec: {clusterIP: '10.96.0.1', ports: [{name: 'https', port: 443, protocol: 'TCP', targetPort: 6443}], type: 'ClusterIP'},
    })
  }
  await store.commit().catch((error: unknown) => {
    etcd?.close()
    throw new Error(`the lab's API server could not write its first objects to etcd: ${(error as Error).message}`)
  })
  let gitVersion = options.gitVersion ?? 'v1.31.8'
  const requests = requestRecorder<KubeRequestLogEntry>(options.requestLogFile ?? (options.stateFile ? path.join(path.dirname(options.stateFile), 'kube-requests.jsonl') : undefined))
  let address = ''

  // The etcd health check's answer for ~1 s, so health requests stay cheap; the apiserver's own wording.
  let etcdProbe: {at: number; failure: Promise<string | undefined>} | undefined
  const etcdFailure = (): Promise<string | undefined> => {
    if (!etcd) return Promise.resolve(undefined)
    if (!etcdProbe || performance.now() - etcdProbe.at > 1000) {
      const failure = etcd.health().then((members) => (members.some((m) => m.healthy) ? undefined : `error getting data from etcd: ${members[0]?.error ?? 'no endpoints'}`))
      etcdProbe = {at: performance.now(), failure}
    }
    return etcdProbe.failure
  }

  const version = () => {
    const m = /^v(\d+)\.(\d+)/.exec(gitVersion)
    return {
      buildDate: '2025-04-22T16:01:20Z', compiler: 'gc', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean', gitVersion,
      goVersion: 'go1.23.8', major: m?.[1] ?? '1', minor: m?.[2] ?? '31', platform: 'linux/amd64',
    }
  }

  const discovery = (pathname: string): unknown => {
    if (pathname === '/version' || pathname === '/version/') return version()
    if (pathname === '/api') return apiVersions(address)
    if (pathname === '/apis') return apiGroupList()
    if (pathname.startsWith('/openapi/v3')) return openApiV3(pathname, gitVersion)
    const core = /^\/api\/(v1)$/.exec(pathname)
    if (core) return apiResourceList('', 'v1')
    const group = /^\/apis\/([^/]+)$/.exec(pathname)
    if (group) return apiGroup(group[1] ?? '')
    const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(pathname)
    if (gv) return apiResourceList(gv[1] ?? '', gv[2] ?? '')
    return undefined
  }

  const resource = (req: IncomingMessage, method: string, url: URL, request: ResourceRequest, body: unknown): {body: unknown; status: number} => {
    const {def, name, namespace, subresource} = request
    const q = url.searchParams
    const type = contentType(req)
    if (body !== undefined && method !== 'PATCH' && type !== 'application/json') throw unsupportedMediaType(type)
    const write = {manager: managerOf(q, req.headers['user-agent'])}
    if (name === undefined) {
      if (method === 'GET') {
        const limit = q.get('limit')
        return {body: cluster.list(def, namespace, {continue: q.get('continue') ?? undefined, fieldSelector: q.get('fieldSelector') ?? undefined, labelSelector: q.get('labelSelector') ?? undefined, limit: limit ? Number(limit) : undefined}), status: 200}
      }
      if (method === 'POST') return {body: cluster.create(def, namespace, body, write), status: 201}
      if (method === 'DELETE' && def.verbs.includes('deletecollection')) {
        const list = cluster.list(def, namespace, {fieldSelector: q.get('fieldSelector') ?? undefined, labelSelector: q.get('labelSelector') ?? undefined})
        for (const item of list.items) cluster.delete(def, item.metadata.namespace, item.metadata.name, deleteOptions(q, body))
        return {body: {...list, items: []}, status: 200}
      }
      throw methodNotAllowed()
    }
    if (subresource === 'eviction') {
      if (method !== 'POST') throw methodNotAllowed()
      const status: StatusBody = cluster.evict(namespace ?? 'default', name, body)
      return {body: status, status: status.code}
    }
    if (subresource !== undefined && !['status', 'approval'].includes(subresource)) throw methodNotAllowed()
    switch (method) {
      case 'GET':
        return {body: cluster.get(def, namespace, name), status: 200}
      case 'PUT':
        return {body: cluster.update(def, namespace, name, body, subresource, write), status: 200}
      case 'PATCH': {
        if (type !== APPLY_PATCH_TYPE && !(PATCH_TYPES as readonly string[]).includes(type)) throw unsupportedMediaType(type)
        // ValidatePatchOptions runs before the object is looked up.
        if (type === APPLY_PATCH_TYPE && !q.get('fieldManager')) throw invalidOptions('PatchOptions', 'fieldManager', 'Required value: is required for apply patch', 'FieldValueRequired')
        if (type !== APPLY_PATCH_TYPE && q.has('force')) throw invalidOptions('PatchOptions', 'force', 'Forbidden: may not be specified for non-apply patch', 'FieldValueForbidden')
        if (type === APPLY_PATCH_TYPE) {
          const applied = cluster.apply(def, namespace, name, body, {fieldManager: q.get('fieldManager') ?? '', force: q.get('force') === 'true', subresource})
          return {body: applied.object, status: applied.created ? 201 : 200}
        }
        return {body: cluster.patch(def, namespace, name, type, body, subresource, write), status: 200}
      }
      case 'DELETE':
        if (subresource) throw methodNotAllowed()
        return {body: cluster.delete(def, namespace, name, deleteOptions(q, body)), status: 200}
      default:
        throw methodNotAllowed()
    }
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now()
    const method = (req.method ?? 'GET').toUpperCase()
    const url = new URL(req.url ?? '/', 'https://kube.invalid')
    const entry: KubeRequestLogEntry = {durationMs: 0, latencyMs: 0, method, path: url.pathname, query: Object.fromEntries(url.searchParams), status: 0, time: new Date().toISOString()}
    const finish = (status: number, body: unknown, contentType = 'application/json') => {
      const text = typeof body === 'string' ? body : JSON.stringify(body)
      res.statusCode = status
      res.setHeader('Content-Type', contentType)
      res.setHeader('Cache-Control', 'no-cache, private')
      res.setHeader('Content-Length', String(Buffer.byteLength(text)))
      res.end(method === 'HEAD' ? undefined : text)
      store.flush()
      entry.status = status
      entry.durationMs = Math.round((performance.now() - started) * 10) / 10
      requests.record(entry)
    }
    try {
      const latency = faults.latencyFor(method, url.pathname)
      if (latency > 0) {
        entry.latencyMs = latency
        await sleep(latency)
      }
      const identity = identityOf(req)
      if (identity) {
        entry.user = identity.user
        entry.groups = identity.groups
      }
      const etcdDown = /^\/(readyz|livez|healthz)/.test(url.pathname) ? await etcdFailure() : undefined
      const healthAnswer = health(url.pathname, url.searchParams.has('verbose'), (check) => {
        if (faults.healthCheckFails(check)) return `${check} check failed (injected fault)`
        return check === 'etcd' || check === 'etcd-readiness' ? etcdDown : undefined
      })
      if (healthAnswer) return finish(healthAnswer.status, healthAnswer.text, 'text/plain; charset=utf-8')
      if (!identity && url.pathname !== '/version') return finish(401, new KubeError(401, 'Unauthorized', 'Unauthorized').toStatus())
      const injected = faults.errorFor(method, url.pathname)
      if (injected) return finish(injected.status, new KubeError(injected.status, injected.reason, injected.message).toStatus())
      const doc = method === 'GET' ? discovery(url.pathname) : undefined
      if (doc !== undefined) return finish(200, doc)
      const request = parseResourcePath(url.pathname)
      if (!request) throw notFoundPath()
      // Only budgets show their status (evictions refresh it themselves): computing it for every
      // request would make each list of a 3000-pod cluster pay the disruption controller's arithmetic.
      if (request.def.name === 'poddisruptionbudgets') cluster.refreshPdbs()
      const watch = url.searchParams.get('watch')
      if (method === 'GET' && (watch === 'true' || watch === '1')) {
        if (request.name !== undefined) throw methodNotAllowed()
        serveWatch(req, res, store, request.def, request.namespace, url.searchParams, wantsTable(req.headers.accept) ? (o) => toTable(request.def, o) : undefined)
        entry.status = 200
        requests.record(entry)
        return
      }
      const apply = method === 'PATCH' && contentType(req) === APPLY_PATCH_TYPE
      const text = method === 'GET' || method === 'HEAD' ? '' : await readBody(req)
      const body = apply ? parseApplyBody(text) : parseJson(text)
      const dryRun = url.searchParams.getAll('dryRun').includes('All') || (!apply && isDryRun(body))
      const answer = await committed(() => (dryRun && method !== 'GET' ? store.dryRun(() => resource(req, method, url, request, body)) : resource(req, method, url, request, body)))
      if (method === 'GET' && answer.status === 200 && !request.subresource && wantsTable(req.headers.accept)) {
        return finish(200, toTable(request.def, answer.body as KubeList | KubeObject), 'application/json;as=Table;v=v1;g=meta.k8s.io')
      }
      return finish(answer.status, answer.body)
    } catch (error) {
      const kubeError = error instanceof KubeError ? error : new KubeError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`)
      return finish(kubeError.code, kubeError.toStatus())
    }
  }

  /**
   * Run a request's (synchronous) work and answer only once etcd holds what it changed; when etcd
   * refuses, the change is undone and the client gets the apiserver's 500 with etcd's message.
   */
  const committed = async <T>(work: () => T): Promise<T> => {
    let result: {failure: Error} | {value: T}
    try {
      result = {value: work()}
    } catch (error) {
      result = {failure: error instanceof Error ? error : new Error(String(error))}
    }
    try {
      await store.commit()
    } catch (error) {
      throw etcdError(error)
    }
    if ('failure' in result) throw result.failure
    return result.value
  }

  const serve = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.statusCode = 500
        res.end()
      }
    })
  }

  const server: Server = createServer({ca: pki.ca.certPem, cert: pki.server.certPem, key: pki.server.keyPem, rejectUnauthorized: false, requestCert: true}, serve)
  let presented = {cert: pki.server.certPem, key: pki.server.keyPem}
  const proxied = options.frontProxySocket === undefined ? undefined : await listenFrontProxy(options.frontProxySocket, serve)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address()
  const port = typeof bound === 'object' && bound ? bound.port : (options.port ?? 0)
  address = `${host.includes(':') ? `[${host}]` : host}:${port}`
  const url = `https://${address}`

  let lastTickError: unknown
  const tick = () => {
    try {
      controllers.tick()
      store.flush()
      lastTickError = undefined
    } catch (error) {
      // A controller error must not stop the loop; the next tick retries, as controllers requeue.
      lastTickError = error
    }
    store.commit().catch((error: unknown) => {
      lastTickError = error
    })
  }
  // With etcd, a tick waits for the previous one's commit (no pile of batches while etcd hangs), and a
  // cache that may have missed a write etcd applied late is read again first.
  const scheduledTick = () => {
    if (store.busy || store.loading) return
    if (store.stale) store.load().catch(() => undefined)
    else tick()
  }
  const interval = options.controllerIntervalMs ?? 500
  const timer = interval > 0 ? setInterval(scheduledTick, interval) : undefined
  timer?.unref()
  tick()

  const byName = (resourceName: string): ResourceDef => {
    const found = RESOURCES.find((r) => r.name === resourceName)
    if (!found) throw new Error(`unknown resource ${resourceName}`)
    return found
  }

  let closing: Promise<void> | undefined
  const kube: FakeKube = {
    addStaticPod: (node, pod) => addStaticPod(cluster, node, pod),
    caPem: pki.ca.certPem,
    close() {
      closing ??= (async () => {
        if (timer) clearInterval(timer)
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        const proxyClosed = new Promise<void>((resolve) => (proxied ? proxied.close(() => resolve()) : resolve()))
        proxied?.closeAllConnections()
        await closed
        await proxyClosed
        await store.settled()
        store.save()
        etcd?.close()
      })()
      return closing
    },
    cluster,
    committed: () => store.commit().then(() => store.settled()),
    containerRunning(namespace, name, running) {
      const key = `${namespace}/${name}`
      if (running === !controllers.containersDown.has(key)) return
      if (running) controllers.containersDown.delete(key)
      else controllers.containersDown.add(key)
      tick()
    },
    etcdHealth: () => etcd?.health() ?? Promise.resolve([]),
    faults: () => faults.get(),
    get: (resourceName, namespace, name) => cluster.find(byName(resourceName), namespace, name),
    host,
    list: (resourceName, namespace) => cluster.all(byName(resourceName), namespace),
    nodeReady(name, ready, reason) {
      controllers.notReady.delete(name)
      controllers.networkNotReady.delete(name)
      if (!ready) (reason === 'network' ? controllers.networkNotReady : controllers.notReady).add(name)
      // At once, not at the next tick: a client must never see a state the kubelet did not post.
      tick()
    },
    pki,
    port,
    registerNode: (name, nodeOptions) => registerNode(cluster, name, {kubeletVersion: gitVersion, ...nodeOptions}),
    reload: () => store.load(),
    requestLog: requests.log,
    seedDemo(seedOptions) {
      seedDemo(cluster, {kubeletVersion: gitVersion, ...seedOptions})
      tick()
    },
    setFaults: (next) => faults.set(next),
    setGitVersion(next) {
      if (next === gitVersion) return false
      gitVersion = next
      return true
    },
    setServingCertificate(certPem, keyPem) {
      if (certPem === presented.cert && keyPem === presented.key) return false
      server.setSecureContext({ca: pki.ca.certPem, cert: certPem, key: keyPem})
      presented = {cert: certPem, key: keyPem}
      return true
    },
    tick() {
      tick()
      if (lastTickError) throw lastTickError instanceof Error ? lastTickError : new Error(JSON.stringify(lastTickError))
    },
    url,
    async writeKubeconfig(file, kubeconfigOptions = {}) {
      const user = kubeconfigOptions.user ?? ADMIN_USER
      const client: KeyPair = user === ADMIN_USER && !kubeconfigOptions.groups ? pki.admin : await issueClientCertificate(pki, user, kubeconfigOptions.groups ?? (user === ADMIN_USER ? ADMIN_GROUPS : []))
      writeFileSync(file, kubeconfigText(url, pki.ca.certPem, user, client), {mode: 0o600})
      return file
    },
  }
  return kube
}

/** kube-apiserver passes a storage error it does not know through as a 500 Status with no reason (`Error from server: …`). */
function etcdError(error: unknown): KubeError {
  if (error instanceof EtcdError) return new KubeError(500, undefined, error.message)
  return error instanceof KubeError ? error : new KubeError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`)
}

function contentType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** `dryRun: ["All"]` in DeleteOptions, or in an Eviction's deleteOptions (kubectl drain --dry-run=server). */
function isDryRun(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false
  const {deleteOptions, dryRun} = body as {deleteOptions?: {dryRun?: unknown}; dryRun?: unknown}
  const list = dryRun ?? deleteOptions?.dryRun
  return Array.isArray(list) && list.includes('All')
}

function deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
  const options: DeleteOptions = {...(body && typeof body === 'object' ? body : {})}
  const grace = query.get('gracePeriodSeconds')
  if (grace !== null) options.gracePeriodSeconds = Number(grace)
  const policy = query.get('propagationPolicy')
  if (policy) options.propagationPolicy = policy as DeleteOptions['propagationPolicy']
  return options
}

export function kubeconfigText(server: string, caPem: string, user: string, client: KeyPair): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64')
  const context = `${user}@kubernetes`
  return stringify({
    apiVersion: 'v1',
    clusters: [{cluster: {'certificate-authority-data': b64(caPem), server}, name: 'kubernetes'}],
    contexts: [{context: {cluster: 'kubernetes', user}, name: context}],
    'current-context': context,
    kind: 'Config',
    preferences: {},
    users: [{name: user, user: {'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem)}}],
  })
}

