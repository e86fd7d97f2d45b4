/**
 * What kp needs from the Kubernetes API: the contract between workflows/health checks and the
 * adapter over @kubernetes/client-node (client.ts). Object shapes are client-node's own models,
 * re-exported as types only, so nothing outside src/lib/kube/ loads the library.
 */
import type {
  KubernetesObject,
  V1CertificateSigningRequest,
  V1DaemonSet,
  V1Deployment,
  V1Node,
  V1Pod,
  V1PodDisruptionBudget,
  V1ReplicaSet,
} from '@kubernetes/client-node'

export type {
  KubernetesObject,
  V1CertificateSigningRequest as KubeCsr,
  V1DaemonSet as KubeDaemonSet,
  V1Deployment as KubeDeployment,
  V1Node as KubeNode,
  V1Pod as KubePod,
  V1PodDisruptionBudget as KubePdb,
  V1ReplicaSet as KubeReplicaSet,
}

export interface ListOptions {
  /** `spec.nodeName=w1,status.phase!=Succeeded` */
  fieldSelector?: string
  labelSelector?: string
  /** One namespace; all namespaces when omitted. */
  namespace?: string
}

export interface CallOptions {
  /** Aborts the request (Ctrl-C, or an overall deadline such as kp health --timeout). */
  signal?: AbortSignal
}

export interface EvictOptions extends CallOptions {
  /** Server-side dry run: every check, no change (kubectl drain --dry-run=server). */
  dryRun?: boolean
  gracePeriodSeconds?: number
}

export interface DeleteOptions extends CallOptions {
  dryRun?: boolean
  gracePeriodSeconds?: number
  /** Delete only this incarnation of the pod (a replacement with the same name is left alone). */
  uid?: string
}

export interface ApplyOptions extends CallOptions {
  /** Server-side dry run: the server checks and merges, and changes nothing. */
  dryRun?: boolean
  /** Who owns the applied fields (`kp`); the server records it in metadata.managedFields. */
  fieldManager: string
  /** Take over fields another manager owns instead of failing with a 409 Conflict. */
  force?: boolean
}

/** `/readyz`, `/livez`, `/readyz/etcd`: the status code and the body (`ok`, or the verbose list). */
export interface HealthAnswer {
  body: string
  ok: boolean
  status: number
}

/** The API server's serving certificate, read from the TLS handshake. */
export interface ServingCertificate {
  fingerprint256: string
  issuer: string
  notAfter: Date
  notBefore: Date
  subject: string
}

export interface Kube {
  /** The API server URL from the kubeconfig. */
  readonly server: string
  /** The kubeconfig context in use. */
  readonly context: string
  close(): Promise<void>
  /** Number of HTTP requests sent so far (benchmarks report it). */
  requestCount(): number

  version(options?: CallOptions): Promise<{gitVersion: string}>
  /** `path` is `/readyz`, `/livez`, `/readyz/etcd`…; `verbose` adds `?verbose`. Never throws for a non-2xx. */
  health(path: string, options?: CallOptions & {verbose?: boolean}): Promise<HealthAnswer>
  servingCertificate(options?: CallOptions): Promise<ServingCertificate>
  /** Does the server offer `pods/eviction` in policy/v1 (kubectl drain's CheckEvictionSupport)? */
  evictionSupported(options?: CallOptions): Promise<boolean>

  getNode(name: string, options?: CallOptions): Promise<V1Node | undefined>
  listNodes(options?: CallOptions & {labelSelector?: string}): Promise<V1Node[]>
  /** Cordon (true) or uncordon (false): a strategic merge patch of spec.unschedulable, as kubectl sends. */
  setUnschedulable(name: string, unschedulable: boolean, options?: CallOptions & {dryRun?: boolean}): Promise<V1Node>

  getPod(namespace: string, name: string, options?: CallOptions): Promise<V1Pod | undefined>
  /** Every page (limit/continue) of the list. */
  listPods(list?: ListOptions, options?: CallOptions): Promise<V1Pod[]>
  /** Throws KubeApiError: 429 when a PDB forbids it (with the budget's message), 404 when gone, 500 for several PDBs. */
  evictPod(namespace: string, name: string, options?: EvictOptions): Promise<void>
  deletePod(namespace: string, name: string, options?: DeleteOptions): Promise<void>

  listPdbs(options?: CallOptions & {namespace?: string}): Promise<V1PodDisruptionBudget[]>
  listDeployments(options?: CallOptions & {namespace?: string}): Promise<V1Deployment[]>
  listDaemonSets(options?: CallOptions & {namespace?: string}): Promise<V1DaemonSet[]>
  listReplicaSets(options?: CallOptions & {namespace?: string}): Promise<V1ReplicaSet[]>
  listCsrs(options?: CallOptions): Promise<V1CertificateSigningRequest[]>
  getDaemonSet(namespace: string, name: string, options?: CallOptions): Promise<V1DaemonSet | undefined>
  getDeployment(namespace: string, name: string, options?: CallOptions): Promise<V1Deployment | undefined>

  /**
   * Server-side apply (`PATCH` with `application/apply-patch+yaml`) of an object of any served kind,
   * CRDs included: the kind's resource and scope come from discovery. Creates it when absent. A
   * namespaced object without a namespace goes to `default`. Never retried (a write). Throws
   * KubeApiError: 409 with the conflicting fields unless `force`, or a kind the server does not serve.
   */
  apply(object: KubernetesObject, options: ApplyOptions): Promise<KubernetesObject>
  /** Any object by apiVersion and kind; undefined when it does not exist. `namespace` is ignored for cluster-scoped kinds. */
  getObject(apiVersion: string, kind: string, namespace: string | undefined, name: string, options?: CallOptions): Promise<KubernetesObject | undefined>
}
