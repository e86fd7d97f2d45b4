/**
 * The Kubernetes adapter: client-node's KubeConfig for the kubeconfig (certificates, tokens, exec
 * plugins, contexts) and its generated, typed APIs for objects, sending through our transport
 * (transport.ts). Health endpoints and the serving certificate are read directly, since they are not
 * objects. Loaded lazily (connectKube imports the library) so `kp --help` never pays for it.
 */
import {existsSync} from 'node:fs'
import {connect as tlsConnect, type PeerCertificate} from 'node:tls'

import type * as K8s from '@kubernetes/client-node'

import {ConfigError, InterruptedError, KpError} from '../errors.js'
import {connectionFailure, httpFailure, KubeApiError} from './errors.js'
import {type ApiResourceList, groupVersionPath, objectPath, type ResourceInfo, ResourceResolver} from './resources.js'
import {DEFAULT_RETRY, NoAnswerError, type RetryPolicy, Transport} from './transport.js'
import type {ApplyOptions, CallOptions, DeleteOptions, EvictOptions, HealthAnswer, Kube, KubernetesObject, ListOptions, ServingCertificate} from './types.js'

export interface ConnectKubeOptions {
  context?: string
  kubeconfig: string
  log?: (line: string) => void
  /** Per request; default 30 s. */
  requestTimeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
}

/** Page size for lists: the 3000 pods of a large cluster come in a few answers, never one huge one. */
const PAGE = 500

type Lib = typeof K8s

export async function connectKube(options: ConnectKubeOptions): Promise<Kube> {
  if (!existsSync(options.kubeconfig)) {
    throw new ConfigError(`kubeconfig ${options.kubeconfig} does not exist`, {hint: 'kp bootstrap writes it; or set cluster.kubeconfig in kp.yaml to the cluster\'s admin.conf'})
  }

  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  try {
    kc.loadFromFile(options.kubeconfig)
    if (options.context) kc.setCurrentContext(options.context)
  } catch (error) {
    throw new ConfigError(`kubeconfig ${options.kubeconfig} cannot be used: ${error instanceof Error ? error.message : String(error)}`, {hint: 'check it with kubectl --kubeconfig FILE config view'})
  }

  const cluster = kc.getCurrentCluster()
  if (!cluster) throw new ConfigError(`kubeconfig ${options.kubeconfig} has no current context with a cluster`, {hint: 'kubectl --kubeconfig FILE config use-context NAME'})
  const https: {ca?: Buffer; cert?: Buffer; headers?: Record<string, string>; key?: Buffer; rejectUnauthorized?: boolean; servername?: string} = {}
  await kc.applyToHTTPSOptions(https as Parameters<typeof kc.applyToHTTPSOptions>[0])
  const transport = new Transport({
    headers: {Accept: 'application/json', ...https.headers},
    log: options.log,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    retry: options.retry ?? DEFAULT_RETRY,
    signal: options.signal,
    tls: {
      ca: https.ca,
      cert: https.cert,
      key: https.key,
      ...(cluster.skipTLSVerify ? {rejectUnauthorized: false} : {}),
      ...(cluster.tlsServerName ? {servername: cluster.tlsServerName} : {}),
    },
  })
  return new ClientNodeKube(k8s, kc, transport, options)
}

class ClientNodeKube implements Kube {
  readonly context: string
  readonly server: string
  private readonly apps: K8s.AppsV1Api
  private readonly certs: K8s.CertificatesV1Api
  private readonly core: K8s.CoreV1Api
  private readonly policy: K8s.PolicyV1Api
  private readonly resources: ResourceResolver

  constructor(
    private readonly k8s: Lib,
    kc: K8s.KubeConfig,
    private readonly transport: Transport,
    private readonly options: ConnectKubeOptions,
  ) {
    this.server = kc.getCurrentCluster()!.server.replace(/\/+$/, '')
    this.context = kc.getCurrentContext()
    const configuration = k8s.createConfiguration({
      authMethods: {default: kc},
      baseServer: new k8s.ServerConfiguration(this.server, {}),
      httpApi: k8s.wrapHttpLibrary({send: (request) => this.sendGenerated(request)}),
    })
    this.core = new k8s.CoreV1Api(configuration)
    this.apps = new k8s.AppsV1Api(configuration)
    this.policy = new k8s.PolicyV1Api(configuration)
    this.certs = new k8s.CertificatesV1Api(configuration)
    this.resources = new ResourceResolver(async (apiVersion) => {
      const path = groupVersionPath(apiVersion)
      const answer = await this.raw('GET', path, {})
      if (answer.status === 404) return undefined
      if (answer.status !== 200) throw httpFailure({body: answer.body, kubeconfig: this.options.kubeconfig, status: answer.status, what: `GET ${path}`})
      return JSON.parse(answer.body) as ApiResourceList
    })
  }

  async close(): Promise<void> {
    this.transport.close()
  }

  requestCount(): number {
    return this.transport.requests()
  }

  async version(options: CallOptions = {}): Promise<{gitVersion: string}> {
    const answer = await this.raw('GET', '/version', options)
    if (answer.status !== 200) throw httpFailure({body: answer.body, kubeconfig: this.options.kubeconfig, status: answer.status, what: 'GET /version'})
    return JSON.parse(answer.body) as {gitVersion: string}
  }

  async health(path: string, options: CallOptions & {verbose?: boolean} = {}): Promise<HealthAnswer> {
    const answer = await this.raw('GET', options.verbose ? `${path}?verbose` : path, options, {Accept: 'text/plain, */*'})
    return {body: answer.body, ok: answer.status === 200, status: answer.status}
  }

  async evictionSupported(options: CallOptions = {}): Promise<boolean> {
    const answer = await this.raw('GET', '/api/v1', options)
    if (answer.status !== 200) return false
    const list = JSON.parse(answer.body) as {resources?: Array<{group?: string; name: string; version?: string}>}
    return (list.resources ?? []).some((r) => r.name === 'pods/eviction' && r.group === 'policy' && r.version === 'v1')
  }

  /** A TLS handshake with the kubeconfig's trust settings, reading the certificate the server presents. */
  servingCertificate(options: CallOptions = {}): Promise<ServingCertificate> {
    const url = new URL(this.server)
    const tls = this.transport.agent.options
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({
        ca: tls.ca,
        cert: tls.cert,
        host: url.hostname,
        key: tls.key,
        port: Number(url.port || 443),
        rejectUnauthorized: tls.rejectUnauthorized ?? true,
        servername: tls.servername ?? (/^[\d.:[\]]+$/.test(url.hostname) ? undefined : url.hostname),
      })
      const timer = setTimeout(() => socket.destroy(new NoAnswerError('no TLS handshake within 10 s', 'ETIMEDOUT')), 10_000)
      const onAbort = (): void => {
        socket.destroy(new InterruptedError('interrupted during a TLS handshake'))
      }

      options.signal?.addEventListener('abort', onAbort, {once: true})
      socket.once('secureConnect', () => {
        const cert: PeerCertificate = socket.getPeerCertificate()
        clearTimeout(timer)
        socket.end()
        resolve({
          fingerprint256: cert.fingerprint256,
          issuer: String(cert.issuer?.CN ?? ''),
          notAfter: new Date(cert.valid_to),
          notBefore: new Date(cert.valid_from),
          subject: String(cert.subject?.CN ?? ''),
        })
      })
      socket.once('error', (error) => {
        clearTimeout(timer)
        reject(error instanceof KpError ? error : connectionFailure(error, this.server, this.options.kubeconfig, 'TLS handshake'))
      })
    })
  }

  async getNode(name: string, options: CallOptions = {}): Promise<K8s.V1Node | undefined> {
    return this.orUndefined(`get node ${name}`, () => this.core.readNode({name}, this.per(options)))
  }

  async listNodes(options: CallOptions & {labelSelector?: string} = {}): Promise<K8s.V1Node[]> {
    return this.pages('list nodes', (cont) => this.core.listNode({_continue: cont, labelSelector: options.labelSelector, limit: PAGE}, this.per(options)))
  }

  async setUnschedulable(name: string, unschedulable: boolean, options: CallOptions & {dryRun?: boolean} = {}): Promise<K8s.V1Node> {
    // What kubectl cordon sends: a strategic merge patch of spec.unschedulable (null removes the field).
    const body = {spec: {unschedulable: unschedulable ? true : null}}
    return this.call(`${unschedulable ? 'cordon' : 'uncordon'} node ${name}`, () => this.core.patchNode({body, dryRun: options.dryRun ? 'All' : undefined, name}, this.per(options, 'application/strategic-merge-patch+json')))
  }

  async getPod(namespace: string, name: string, options: CallOptions = {}): Promise<K8s.V1Pod | undefined> {
    return this.orUndefined(`get pod ${namespace}/${name}`, () => this.core.readNamespacedPod({name, namespace}, this.per(options)))
  }

  async listPods(list: ListOptions = {}, options: CallOptions = {}): Promise<K8s.V1Pod[]> {
    const query = {fieldSelector: list.fieldSelector, labelSelector: list.labelSelector, limit: PAGE}
    return list.namespace
      ? this.pages('list pods', (cont) => this.core.listNamespacedPod({...query, _continue: cont, namespace: list.namespace!}, this.per(options)))
      : this.pages('list pods', (cont) => this.core.listPodForAllNamespaces({...query, _continue: cont}, this.per(options)))
  }

  async evictPod(namespace: string, name: string, options: EvictOptions = {}): Promise<void> {
    const deleteOptions = {
      ...(options.gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds: options.gracePeriodSeconds}),
      ...(options.dryRun ? {dryRun: ['All']} : {}),
    }
    const body = {apiVersion: 'policy/v1', kind: 'Eviction', metadata: {name, namespace}, ...(Object.keys(deleteOptions).length > 0 ? {deleteOptions} : {})}
    await this.call(`evict pod ${namespace}/${name}`, () => this.core.createNamespacedPodEviction({body, name, namespace}, this.per(options)))
  }

  async deletePod(namespace: string, name: string, options: DeleteOptions = {}): Promise<void> {
    const body = {
      ...(options.gracePeriodSeconds === undefined ? {} : {gracePeriodSeconds: options.gracePeriodSeconds}),
      ...(options.uid ? {preconditions: {uid: options.uid}} : {}),
      ...(options.dryRun ? {dryRun: ['All']} : {}),
    }
    await this.call(`delete pod ${namespace}/${name}`, () => this.core.deleteNamespacedPod({body, name, namespace}, this.per(options)))
  }

  async listPdbs(options: CallOptions & {namespace?: string} = {}): Promise<K8s.V1PodDisruptionBudget[]> {
    return options.namespace
      ? this.pages('list PodDisruptionBudgets', (cont) => this.policy.listNamespacedPodDisruptionBudget({_continue: cont, limit: PAGE, namespace: options.namespace!}, this.per(options)))
      : this.pages('list PodDisruptionBudgets', (cont) => this.policy.listPodDisruptionBudgetForAllNamespaces({_continue: cont, limit: PAGE}, this.per(options)))
  }

  async listDeployments(options: CallOptions & {namespace?: string} = {}): Promise<K8s.V1Deployment[]> {
    return options.namespace
      ? this.pages('list Deployments', (cont) => this.apps.listNamespacedDeployment({_continue: cont, limit: PAGE, namespace: options.namespace!}, this.per(options)))
      : this.pages('list Deployments', (cont) => this.apps.listDeploymentForAllNamespaces({_continue: cont, limit: PAGE}, this.per(options)))
  }

  async listDaemonSets(options: CallOptions & {namespace?: string} = {}): Promise<K8s.V1DaemonSet[]> {
    return options.namespace
      ? this.pages('list DaemonSets', (cont) => this.apps.listNamespacedDaemonSet({_continue: cont, limit: PAGE, namespace: options.namespace!}, this.per(options)))
      : this.pages('list DaemonSets', (cont) => this.apps.listDaemonSetForAllNamespaces({_continue: cont, limit: PAGE}, this.per(options)))
  }

  async listReplicaSets(options: CallOptions & {namespace?: string} = {}): Promise<K8s.V1ReplicaSet[]> {
    return options.namespace
      ? this.pages('list ReplicaSets', (cont) => this.apps.listNamespacedReplicaSet({_continue: cont, limit: PAGE, namespace: options.namespace!}, this.per(options)))
      : this.pages('list ReplicaSets', (cont) => this.apps.listReplicaSetForAllNamespaces({_continue: cont, limit: PAGE}, this.per(options)))
  }

  async listCsrs(options: CallOptions = {}): Promise<K8s.V1CertificateSigningRequest[]> {
    return this.pages('list CertificateSigningRequests', (cont) => this.certs.listCertificateSigningRequest({_continue: cont, limit: PAGE}, this.per(options)))
  }

  async getDaemonSet(namespace: string, name: string, options: CallOptions = {}): Promise<K8s.V1DaemonSet | undefined> {
    return this.orUndefined(`get DaemonSet ${namespace}/${name}`, () => this.apps.readNamespacedDaemonSet({name, namespace}, this.per(options)))
  }

  async getDeployment(namespace: string, name: string, options: CallOptions = {}): Promise<K8s.V1Deployment | undefined> {
    return this.orUndefined(`get Deployment ${namespace}/${name}`, () => this.apps.readNamespacedDeployment({name, namespace}, this.per(options)))
  }

  async apply(object: KubernetesObject, options: ApplyOptions): Promise<KubernetesObject> {
    const {apiVersion, kind} = object
    const name = object.metadata?.name
    const what = `apply ${kind ?? '(no kind)'} ${object.metadata?.namespace ? `${object.metadata.namespace}/` : ''}${name ?? '(no name)'}`
    if (!apiVersion || !kind || !name) throw new KubeApiError(`${what}: the object needs apiVersion, kind and metadata.name`, {hint: 'check the manifest'})
    const info = await this.resource(apiVersion, kind, options, what)
    // kubectl apply --server-side's query; fieldValidation=Strict makes the server refuse unknown fields, as kubectl does.
    const query = new URLSearchParams({fieldManager: options.fieldManager, fieldValidation: 'Strict'})
    if (options.force) query.set('force', 'true')
    if (options.dryRun) query.set('dryRun', 'All')
    const path = `${objectPath(apiVersion, info, object.metadata?.namespace, name)}?${query.toString()}`
    const answer = await this.raw('PATCH', path, options, {'Content-Type': 'application/apply-patch+yaml'}, JSON.stringify(object))
    if (answer.status !== 200 && answer.status !== 201) throw httpFailure({body: answer.body, kubeconfig: this.options.kubeconfig, status: answer.status, what})
    return JSON.parse(answer.body) as KubernetesObject
  }

  async getObject(apiVersion: string, kind: string, namespace: string | undefined, name: string, options: CallOptions = {}): Promise<KubernetesObject | undefined> {
    const what = `get ${kind} ${namespace ? `${namespace}/` : ''}${name}`
    const info = await this.resource(apiVersion, kind, options, what)
    const answer = await this.raw('GET', objectPath(apiVersion, info, namespace, name), options)
    if (answer.status === 404) return undefined
    if (answer.status !== 200) throw httpFailure({body: answer.body, kubeconfig: this.options.kubeconfig, status: answer.status, what})
    return JSON.parse(answer.body) as KubernetesObject
  }

  /** The plural and scope of a kind, from discovery (cached per connection). */
  private async resource(apiVersion: string, kind: string, options: CallOptions, what: string): Promise<ResourceInfo> {
    let info: ResourceInfo | undefined
    try {
      info = await this.resources.resolve(apiVersion, kind)
    } catch (error) {
      throw this.translate(error, `${what}: discovery of ${apiVersion}`)
    }
    if (options.signal?.aborted) throw new InterruptedError('interrupted during a Kubernetes API request')
    if (!info) {
      throw new KubeApiError(`${what}: the API server does not serve kind "${kind}" in "${apiVersion}"`, {
        hint: `check apiVersion and kind in the manifest (\`kubectl api-resources\` lists what the server serves); a custom resource needs its CustomResourceDefinition applied first`,
      })
    }
    return info
  }

  /** Per-call options for the generated APIs: the caller's signal, and a content type for patches. */
  private per(options: CallOptions, contentType?: string): K8s.ConfigurationOptions {
    const {k8s} = this
    if (!options.signal && !contentType) return {}
    return {
      middleware: [
        {
          post: (response) => new k8s.Observable(Promise.resolve(response)),
          pre(request) {
            if (options.signal) request.setSignal(options.signal)
            if (contentType) request.setHeaderParam('Content-Type', contentType)
            return new k8s.Observable(Promise.resolve(request))
          },
        },
      ],
      middlewareMergeStrategy: 'append',
    }
  }

  private async sendGenerated(request: K8s.RequestContext): Promise<K8s.ResponseContext> {
    const body = request.getBody()
    const answer = await this.transport.send(request.getHttpMethod().toString(), request.getUrl(), {
      ...(typeof body === 'string' ? {body} : {}),
      headers: request.getHeaders(),
      signal: request.getSignal(),
    })
    return new this.k8s.ResponseContext(answer.status, answer.headers, {binary: async () => Buffer.from(answer.body), text: async () => answer.body})
  }

  private async raw(method: string, path: string, options: CallOptions, headers: Record<string, string> = {}, body?: string) {
    try {
      return await this.transport.send(method, `${this.server}${path}`, {...(body === undefined ? {} : {body}), headers, signal: options.signal})
    } catch (error) {
      throw this.translate(error, `${method} ${path}`)
    }
  }

  /** Every page of a list, following `continue`. */
  private async pages<T>(what: string, fetchPage: (cont: string | undefined) => Promise<{items: T[]; metadata?: {_continue?: string}}>): Promise<T[]> {
    const items: T[] = []
    let cont: string | undefined
    do {
      const page = await this.call(what, () => fetchPage(cont))
      items.push(...page.items)
      cont = page.metadata?._continue || undefined
    } while (cont)
    return items
  }

  private async orUndefined<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await this.call(what, fn)
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) return undefined
      throw error
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (error) {
      throw this.translate(error, what)
    }
  }

  private translate(error: unknown, what: string): Error {
    if (error instanceof KpError) return error
    if (error instanceof NoAnswerError) return connectionFailure(error, this.server, this.options.kubeconfig, what)
    if (error instanceof this.k8s.ApiException) {
      const e = error as K8s.ApiException<unknown> & {code: number; body: unknown}
      // The generated code does not keep the request line; the Status message names the object.
      return httpFailure({body: e.body, kubeconfig: this.options.kubeconfig, status: e.code, what})
    }

    return error instanceof Error ? error : new Error(String(error))
  }
}
