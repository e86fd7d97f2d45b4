/**
 * Kubernetes reads as plain JSON GETs over the adapter's transport, for a kubeconfig the light reader
 * understands (kubeconfig.ts): `kp health` then never loads client-node (~0.8 s). Objects keep the
 * API's JSON as it is (timestamps as strings; health never reads them as Dates). Writes, which health
 * never makes, go through client-node, connected on first use.
 */
import {HttpKube} from './base.js'
import {httpFailure} from './errors.js'
import type {CallOptions, DeleteOptions, EvictOptions, Kube, KubeCsr, KubeDaemonSet, KubeDeployment, KubeNode, KubePdb, KubePod, KubeReplicaSet, ListOptions} from './types.js'

/** Page size for lists, as client.ts: the 3000 pods of a large cluster come in a few answers. */
const PAGE = '500'

export class PlainKube extends HttpKube implements Kube {
  private writer?: Promise<Kube>

  override async close(): Promise<void> {
    await super.close()
    if (this.writer) await (await this.writer.catch(() => undefined))?.close()
  }

  async getNode(name: string, options: CallOptions = {}): Promise<KubeNode | undefined> {
    return this.getJson(`get node ${name}`, `/api/v1/nodes/${enc(name)}`, options)
  }

  async listNodes(options: CallOptions & {labelSelector?: string} = {}): Promise<KubeNode[]> {
    return this.list('list nodes', '/api/v1/nodes', options, {labelSelector: options.labelSelector})
  }

  async getPod(namespace: string, name: string, options: CallOptions = {}): Promise<KubePod | undefined> {
    return this.getJson(`get pod ${namespace}/${name}`, `/api/v1/namespaces/${enc(namespace)}/pods/${enc(name)}`, options)
  }

  async listPods(list: ListOptions = {}, options: CallOptions = {}): Promise<KubePod[]> {
    return this.list('list pods', `/api/v1${scope(list.namespace)}/pods`, options, {fieldSelector: list.fieldSelector, labelSelector: list.labelSelector})
  }

  async listPdbs(options: CallOptions & {namespace?: string} = {}): Promise<KubePdb[]> {
    return this.list('list PodDisruptionBudgets', `/apis/policy/v1${scope(options.namespace)}/poddisruptionbudgets`, options)
  }

  async listDeployments(options: CallOptions & {namespace?: string} = {}): Promise<KubeDeployment[]> {
    return this.list('list Deployments', `/apis/apps/v1${scope(options.namespace)}/deployments`, options)
  }

  async listDaemonSets(options: CallOptions & {namespace?: string} = {}): Promise<KubeDaemonSet[]> {
    return this.list('list DaemonSets', `/apis/apps/v1${scope(options.namespace)}/daemonsets`, options)
  }

  async listReplicaSets(options: CallOptions & {namespace?: string} = {}): Promise<KubeReplicaSet[]> {
    return this.list('list ReplicaSets', `/apis/apps/v1${scope(options.namespace)}/replicasets`, options)
  }

  async listCsrs(options: CallOptions = {}): Promise<KubeCsr[]> {
    return this.list('list CertificateSigningRequests', '/apis/certificates.k8s.io/v1/certificatesigningrequests', options)
  }

  async getDaemonSet(namespace: string, name: string, options: CallOptions = {}): Promise<KubeDaemonSet | undefined> {
    return this.getJson(`get DaemonSet ${namespace}/${name}`, `/apis/apps/v1/namespaces/${enc(namespace)}/daemonsets/${enc(name)}`, options)
  }

  async getDeployment(namespace: string, name: string, options: CallOptions = {}): Promise<KubeDeployment | undefined> {
    return this.getJson(`get Deployment ${namespace}/${name}`, `/apis/apps/v1/namespaces/${enc(namespace)}/deployments/${enc(name)}`, options)
  }

  async setUnschedulable(name: string, unschedulable: boolean, options: CallOptions & {dryRun?: boolean} = {}): Promise<KubeNode> {
    return (await this.write()).setUnschedulable(name, unschedulable, options)
  }

  async evictPod(namespace: string, name: string, options: EvictOptions = {}): Promise<void> {
    return (await this.write()).evictPod(namespace, name, options)
  }

  async deletePod(namespace: string, name: string, options: DeleteOptions = {}): Promise<void> {
    return (await this.write()).deletePod(namespace, name, options)
  }

  private write(): Promise<Kube> {
    this.writer ??= import('./client.js').then(({connectClientNode}) => connectClientNode(this.options))
    return this.writer
  }

  private async getJson<T>(what: string, path: string, options: CallOptions, missing: 'throw' | 'undefined' = 'undefined'): Promise<T | undefined> {
    const answer = await this.raw('GET', path, options)
    if (answer.status === 404 && missing === 'undefined') return undefined
    if (answer.status !== 200) throw httpFailure({body: answer.body, kubeconfig: this.options.kubeconfig, status: answer.status, what})
    return JSON.parse(answer.body) as T
  }

  /** Every page of a list, following `continue`. */
  private async list<T>(what: string, path: string, options: CallOptions, selectors: {fieldSelector?: string; labelSelector?: string} = {}): Promise<T[]> {
    const items: T[] = []
    let cont: string | undefined
    do {
      const query = new URLSearchParams({limit: PAGE})
      if (selectors.fieldSelector) query.set('fieldSelector', selectors.fieldSelector)
      if (selectors.labelSelector) query.set('labelSelector', selectors.labelSelector)
      if (cont) query.set('continue', cont)
      const page = await this.getJson<{items?: T[]; metadata?: {continue?: string}}>(what, `${path}?${query.toString()}`, options, 'throw')
      items.push(...(page!.items ?? []))
      cont = page!.metadata?.continue || undefined
    } while (cont)
    return items
  }
}

function enc(segment: string): string {
  return encodeURIComponent(segment)
}

function scope(namespace: string | undefined): string {
  return namespace ? `/namespaces/${enc(namespace)}` : ''
}
