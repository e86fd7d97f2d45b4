/**
 * The Kubernetes adapter: client-node's KubeConfig for the kubeconfig (certificates, tokens, exec
 * plugins, contexts) and its generated, typed APIs for objects, sending through our transport
 * (transport.ts). Health endpoints and the serving certificate are read directly (base.ts), since
 * they are not objects. Loaded lazily (connectKube imports the library) so `kp --help` never pays for
 * it; with `plainReads` and a kubeconfig the light reader understands, not even `kp health` does
 * (plain.ts).
 */
import {existsSync} from 'node:fs'

import type * as K8s from '@kubernetes/client-node'

import {ConfigError} from '../errors.js'
import {type ConnectKubeOptions, HttpKube, transportFor} from './base.js'
import {httpFailure, KubeApiError} from './errors.js'
import {readPlainKubeconfig} from './kubeconfig.js'
import type {Transport} from './transport.js'
import type {CallOptions, DeleteOptions, EvictOptions, Kube, ListOptions} from './types.js'

export type {ConnectKubeOptions} from './base.js'

/** Page size for lists: the 3000 pods of a large cluster come in a few answers, never one huge one. */
const PAGE = 500

type Lib = typeof K8s

export async function connectKube(options: ConnectKubeOptions): Promise<Kube> {
  if (!existsSync(options.kubeconfig)) {
    throw new ConfigError(`kubeconfig ${options.kubeconfig} does not exist`, {hint: 'kp bootstrap writes it; or set cluster.kubeconfig in kp.yaml to the cluster\'s admin.conf'})
  }

  const plain = options.plainReads ? readPlainKubeconfig(options.kubeconfig, options.context) : undefined
  if (plain) {
    const {PlainKube} = await import('./plain.js')
    return new PlainKube(plain.server, plain.context, transportFor(options, plain.tls, plain.headers), options)
  }

  return connectClientNode(options)
}

/** Everything through client-node: exec plugins, auth providers, proxies, and typed writes. */
export async function connectClientNode(options: ConnectKubeOptions): Promise<Kube> {
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
  const transport = transportFor(
    options,
    {
      ca: https.ca,
      cert: https.cert,
      key: https.key,
      ...(cluster.skipTLSVerify ? {rejectUnauthorized: false} : {}),
      ...(cluster.tlsServerName ? {servername: cluster.tlsServerName} : {}),
    },
    https.headers,
  )
  return new ClientNodeKube(k8s, kc, transport, options)
}

class ClientNodeKube extends HttpKube implements Kube {
  private readonly apps: K8s.AppsV1Api
  private readonly certs: K8s.CertificatesV1Api
  private readonly core: K8s.CoreV1Api
  private readonly policy: K8s.PolicyV1Api

  constructor(
    private readonly k8s: Lib,
    kc: K8s.KubeConfig,
    transport: Transport,
    options: ConnectKubeOptions,
  ) {
    super(kc.getCurrentCluster()!.server.replace(/\/+$/, ''), kc.getCurrentContext(), transport, options)
    const configuration = k8s.createConfiguration({
      authMethods: {default: kc},
      baseServer: new k8s.ServerConfiguration(this.server, {}),
      httpApi: k8s.wrapHttpLibrary({send: (request) => this.sendGenerated(request)}),
    })
    this.core = new k8s.CoreV1Api(configuration)
    this.apps = new k8s.AppsV1Api(configuration)
    this.policy = new k8s.PolicyV1Api(configuration)
    this.certs = new k8s.CertificatesV1Api(configuration)
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

  protected override translate(error: unknown, what: string): Error {
    if (error instanceof this.k8s.ApiException) {
      const e = error as K8s.ApiException<unknown> & {code: number; body: unknown}
      // The generated code does not keep the request line; the Status message names the object.
      return httpFailure({body: e.body, kubeconfig: this.options.kubeconfig, status: e.code, what})
    }

    return super.translate(error, what)
  }
}
