/**
 * The lab's kubeadm clusters and their API servers: one fake API server (../kube) per cluster,
 * listening on the cluster's control-plane endpoint, serving with a certificate signed by the
 * cluster's own CA (the PKI of pki.ts is its certDir), its objects kept beside the cluster record
 * so that a restarted supervisor serves an initialised cluster again. The objects live in the
 * cluster's real etcd (the members the lab kubelet runs on the control planes), read at every start:
 * an API server started again after an etcd restore serves the restored cluster.
 */
import path from 'node:path'

import {splitHostPort} from '../../kubeadm/net.js'
import {type FakeKube, startFakeKube} from '../kube/index.js'
import {etcdClientCredentials, etcdEndpoints} from './etcd.js'
import {ensureClusterCa, type ClusterCa, type LabPkiOptions} from './pki.js'
import {type ClusterRecord, ClusterStore} from './state.js'

export interface RunningCluster {
  ca: ClusterCa
  kube: FakeKube
  record: ClusterRecord
}

export interface LabClustersOptions {
  /** `<lab>/kubeadm`. */
  dir: string
  log: (line: string) => void
  /** Controller tick of the fake API servers (ms). */
  controllerIntervalMs?: number
}

export class LabClusters {
  readonly store: ClusterStore
  private readonly running = new Map<string, RunningCluster>()
  private readonly starting = new Map<string, Promise<RunningCluster>>()
  /**
   * Clusters to serve again as soon as a control plane runs their API server: stopped because every
   * kube-apiserver manifest was moved out, or not served after a supervisor restart because etcd did
   * not answer yet. A cluster kubeadm init is creating is never here: init starts it itself.
   */
  readonly resumable = new Set<string>()

  constructor(private readonly options: LabClustersOptions) {
    this.store = new ClusterStore(options.dir)
  }

  get(name: string): RunningCluster | undefined {
    return this.running.get(name)
  }

  all(): RunningCluster[] {
    return [...this.running.values()]
  }

  /** The running cluster whose API server answers at `host:port` (a kubeconfig's server without https://). */
  byEndpoint(endpoint: string): RunningCluster | undefined {
    const wanted = normalise(endpoint)
    return this.all().find((c) => normalise(c.record.endpoint) === wanted)
  }

  /** The trusted front-proxy socket of the running cluster `vmid` is a control plane of (the kube-apiserver stand-ins' upstream). */
  frontProxySocketOf(vmid: number): string | undefined {
    const running = this.all().find((c) => c.record.members.some((m) => m.vmid === vmid && m.role === 'control-plane'))
    return running ? this.frontProxySocket(running.record.name) : undefined
  }

  frontProxySocket(name: string): string {
    return path.join(this.kubeDir(name), 'front-proxy.sock')
  }

  pkiOptions(record: ClusterRecord): LabPkiOptions {
    return {caDays: 3650, certDays: record.certDays}
  }

  ca(record: ClusterRecord): Promise<ClusterCa> {
    return ensureClusterCa(this.store.pkiDir(record.name), this.pkiOptions(record))
  }

  /** Starts the API server of a recorded cluster (idempotent; callers racing each other share one start). */
  async start(record: ClusterRecord, ca?: ClusterCa): Promise<RunningCluster> {
    const have = this.running.get(record.name)
    if (have) {
      have.record = record
      return have
    }

    const pending = this.starting.get(record.name)
    if (pending) return pending
    const starting = this.startNow(record, ca).finally(() => this.starting.delete(record.name))
    this.starting.set(record.name, starting)
    return starting
  }

  isStarting(name: string): boolean {
    return this.starting.has(name)
  }

  private async startNow(record: ClusterRecord, ca?: ClusterCa): Promise<RunningCluster> {
    const parts = splitHostPort(record.endpoint)
    if ('error' in parts) throw new Error(`the control-plane endpoint ${parts.error}`)
    const clusterCa = ca ?? (await this.ca(record))
    const sans = [...new Set([parts.host, ...(record.spec.certSans ?? []), ...record.members.filter((m) => m.role === 'control-plane').map((m) => m.ip)])]
    const credentials = await etcdClientCredentials(this.store.pkiDir(record.name))
    const kube = await startFakeKube({
      certDir: clusterCa.dir,
      controllerIntervalMs: this.options.controllerIntervalMs ?? 500,
      // Asked again before each etcd request: members that join or leave are seen at once.
      frontProxySocket: this.frontProxySocket(record.name),
      etcd: {...credentials, endpoints: () => etcdEndpoints(this.running.get(record.name)?.record ?? record)},
      gitVersion: `v${record.spec.kubernetesVersion}`,
      host: parts.host,
      port: Number(parts.port),
      sans,
      servingCertificateDays: record.certDays,
      stateFile: this.store.kubeStateFile(record.name),
    })
    const running = {ca: clusterCa, kube, record}
    this.running.set(record.name, running)
    this.options.log(`kubeadm cluster ${record.name}: API server on ${kube.url}`)
    return running
  }

  async stop(name: string): Promise<void> {
    const running = this.running.get(name)
    if (!running) return
    this.running.delete(name)
    await running.kube.close()
    this.options.log(`kubeadm cluster ${name}: API server stopped`)
  }

  /** A restarted supervisor: serve every cluster that still has a control plane. */
  async restore(): Promise<void> {
    for (const name of this.store.names()) {
      const record = this.store.load(name)
      if (!record?.members.some((m) => m.role === 'control-plane')) continue
      try {
        await this.start(record)
      } catch (error) {
        this.resumable.add(name)
        this.options.log(`kubeadm cluster ${name}: cannot serve it again yet: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
  }

  async closeAll(): Promise<void> {
    for (const name of [...this.running.keys()]) await this.stop(name)
  }

  save(record: ClusterRecord): void {
    this.store.save(record)
    const running = this.running.get(record.name)
    if (running) running.record = record
  }

  kubeDir(name: string): string {
    return path.dirname(this.store.kubeStateFile(name))
  }
}

function normalise(endpoint: string): string {
  return endpoint.replace(/^https:\/\//, '').replace(/\/+$/, '').toLowerCase()
}
