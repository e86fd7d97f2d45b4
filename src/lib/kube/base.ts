/**
 * What both Kubernetes connections share (client.ts over client-node, plain.ts over plain JSON): one
 * transport, the calls that are not typed objects (health endpoints, /version, discovery, the serving
 * certificate, server-side apply), and the translation of failures into KubeApiError.
 */
import {connect as tlsConnect, type PeerCertificate} from 'node:tls'

import {InterruptedError, KpError} from '../errors.js'
import {connectionFailure, httpFailure, KubeApiError} from './errors.js'
import {type ApiResourceList, groupVersionPath, objectPath, type ResourceInfo, ResourceResolver} from './resources.js'
import {DEFAULT_RETRY, NoAnswerError, type RetryPolicy, Transport, type TransportOptions} from './transport.js'
import type {ApplyOptions, CallOptions, HealthAnswer, KubernetesObject, ServingCertificate} from './types.js'

export interface ConnectKubeOptions {
  context?: string
  kubeconfig: string
  log?: (line: string) => void
  /**
   * Read objects as plain JSON without loading client-node when the kubeconfig allows (kp health):
   * timestamps in objects then stay strings, not Dates. Writes still go through client-node.
   */
  plainReads?: boolean
  /** Per request; default 30 s. */
  requestTimeoutMs?: number
  retry?: RetryPolicy
  signal?: AbortSignal
}

export function transportFor(options: ConnectKubeOptions, tls: TransportOptions['tls'], headers: Record<string, string> = {}): Transport {
  return new Transport({
    headers: {Accept: 'application/json', ...headers},
    log: options.log,
    requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    retry: options.retry ?? DEFAULT_RETRY,
    signal: options.signal,
    tls,
  })
}

export abstract class HttpKube {
  private readonly resources: ResourceResolver

  constructor(
    readonly server: string,
    readonly context: string,
    protected readonly transport: Transport,
    protected readonly options: ConnectKubeOptions,
  ) {
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


  protected async raw(method: string, path: string, options: CallOptions, headers: Record<string, string> = {}, body?: string) {
    try {
      return await this.transport.send(method, `${this.server}${path}`, {...(body === undefined ? {} : {body}), headers, signal: options.signal})
    } catch (error) {
      throw this.translate(error, `${method} ${path}`)
    }
  }


  protected translate(error: unknown, what: string): Error {
    if (error instanceof KpError) return error
    if (error instanceof NoAnswerError) return connectionFailure(error, this.server, this.options.kubeconfig, what)
    return error instanceof Error ? error : new Error(String(error))
  }
}
