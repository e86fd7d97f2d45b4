/**
 * The kubelet of each lab VM, as the API servers see it. For a kubeadm cluster: a booted VM whose
 * kubelet service is active (the systemctl stub's state) and whose /etc/kubernetes/kubelet.conf
 * points at a running lab cluster registers its Node there (InternalIP = the VM's address, version
 * = the VM's installed kubelet package); the node is Ready only while the VM is up, the kubelet
 * runs and a CNI configuration is in /etc/cni/net.d — else NotReady, as a kubelet without a pod
 * network is. The CNI configuration appears the way a CNI's install-cni init container writes it:
 * when a pod of a DaemonSet mounting a hostPath under /etc/cni/net.d is bound to the node.
 * For the `kp lab up --cluster` demo API: nodes named like VMs post status while their VM runs the
 * kubelet service; nodes without a VM keep reporting Ready. `kp lab fault NODE --kubelet-down`
 * silences a node in either.
 */
import {statSync} from 'node:fs'
import path from 'node:path'

import type {FakeKube} from '../kube/index.js'
import {NODES, PODS} from '../kube/cluster.js'
import type {Node, Pod} from '../kube/types.js'
import type {LabClusters, RunningCluster} from './clusters.js'
import {CONTROL_PLANE_COMPONENTS} from './control-plane-pods.js'
import {installedVersion, kubeconfigServer, type LabVm} from './vm.js'
import {listVmDir, vmPathExists, writeVmFiles} from './vm-files.js'
import type {LabStaticPods} from './static-pods.js'

export const CNI_CONFIG = '/etc/cni/net.d/10-kp-lab.conflist'
const APISERVER_MANIFEST = '/etc/kubernetes/manifests/kube-apiserver.yaml'
const CNI_DIR = '/etc/cni/net.d'

/** What flannel's install-cni container writes (its cni-conf.json), named for the lab. */
export const CNI_CONFLIST = `${JSON.stringify({
  cniVersion: '0.3.1',
  name: 'cbr0',
  plugins: [
    {delegate: {hairpinMode: true, isDefaultGateway: true}, type: 'flannel'},
    {capabilities: {portMappings: true}, type: 'portmap'},
  ],
}, null, 2)}\n`

export interface LabVmState extends LabVm {
  booted: boolean
  /** The VM's kubelet runs but must not turn Ready (kp lab fault --kubelet-not-ready-after-reboot, after that reboot). */
  kubeletNotReady?: boolean
}

export interface KubeletsOptions {
  clusters: LabClusters
  /** The `kp lab up --cluster` demo API, if it runs. */
  demo?: FakeKube
  log: (line: string) => void
  /** The static pods the kubelets run (etcd). */
  pods?: LabStaticPods
  /** The lab's VMs now (templates excluded). */
  vms: () => LabVmState[]
}

const HEARTBEAT_MS = 1000

function hasCniConfig(vm: LabVm): boolean {
  return listVmDir(vm.root, CNI_DIR).some((f) => /\.(conf|conflist|json)$/.test(f))
}

/** A pod that installs a CNI configuration on its node: it mounts a hostPath under /etc/cni/net.d. */
export function installsCni(pod: Pod): boolean {
  if (pod.metadata.deletionTimestamp || !pod.metadata.ownerReferences?.some((r) => r.kind === 'DaemonSet')) return false
  const volumes = (pod.spec as {volumes?: Array<{hostPath?: {path?: string}}>} | undefined)?.volumes ?? []
  return volumes.some((v) => {
    const p = v.hostPath?.path?.replace(/\/+$/, '')
    return p !== undefined && (p === CNI_DIR || p.startsWith(`${CNI_DIR}/`))
  })
}

/** Orders `v1.31.9`-style versions. */
export function compareVersions(a: string, b: string): number {
  const pa = a.replace(/^v/, '').split('.').map(Number)
  const pb = b.replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0)
  return 0
}

export class LabKubelets {
  readonly down = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private readonly posting = new Map<string, 'ready' | 'network' | 'silent'>()
  /** Per node (`cluster/node`), the kubelet service start it last reported its version from. */
  private readonly started = new Map<string, string>()
  /** Per API server (a restarted one presents its own again), the certificate and key last handed to it. */
  private readonly presented = new WeakMap<FakeKube, string>()

  constructor(private readonly options: KubeletsOptions) {}

  start(): void {
    this.beat()
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS)
  }

  stop(): void {
    clearInterval(this.timer)
  }

  set(name: string, down: boolean): void {
    if (down) this.down.add(name)
    else this.down.delete(name)
    this.beat()
  }

  /** Every API server the lab runs: the demo one and each kubeadm cluster's. */
  kubes(): FakeKube[] {
    return [...(this.options.demo ? [this.options.demo] : []), ...this.options.clusters.all().map((c) => c.kube)]
  }

  /** The kubelet's first status post, now: registers the VM's node in the cluster its kubelet.conf names. */
  register(vm: LabVm): boolean {
    if (!vm.serviceActive('kubelet.service')) return false
    const server = kubeconfigServer(vm.root, '/etc/kubernetes/kubelet.conf')
    const running = server ? this.options.clusters.byEndpoint(server) : undefined
    if (!running) return false
    const member = running.record.members.find((m) => m.vmid === vm.vmid)
    const name = member?.name ?? vm.name
    if (!running.kube.cluster.find(NODES, undefined, name)) {
      const version = installedVersion(vm.root, 'kubelet') ?? running.record.spec.kubernetesVersion
      running.kube.registerNode(name, {ip: member?.ip ?? vm.ip, kubeletVersion: `v${version}`})
      // A kubelet registers its node NotReady (no network yet); the heartbeat below decides from there.
      running.kube.nodeReady(name, false, 'network')
      this.posting.set(`${running.record.name}/${name}`, 'network')
      this.options.log(`kubelet ${name}: registered in cluster ${running.record.name}`)
    }

    this.beat()
    return true
  }

  beat(): void {
    try {
      this.beatDemo()
      this.beatClusters()
      this.options.pods?.sync(this.options.vms())
      this.serveClusters()
    } catch (error) {
      this.options.log(`kubelets: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  /** `network`: the kubelet runs and posts status, but has no CNI yet (Ready=False, not Unknown). */
  private report(kube: FakeKube, key: string, name: string, ready: boolean, why: string, network = false): void {
    const state = ready ? 'ready' : network ? 'network' : 'silent'
    if (this.posting.get(key) === state) return
    this.posting.set(key, state)
    if (network) kube.nodeReady(name, false, 'network')
    else kube.nodeReady(name, ready)
    this.options.log(`kubelet ${name}: ${ready ? 'Ready' : `NotReady (${why})`}`)
  }

  private beatDemo(): void {
    const kube = this.options.demo
    if (!kube) return
    const vms = new Map(this.options.vms().map((vm) => [vm.name, vm]))
    for (const node of kube.list<Node>('nodes')) {
      const name = node.metadata.name
      const vm = vms.get(name)
      const held = vm?.kubeletNotReady === true
      const ready = !this.down.has(name) && !held && (vm === undefined || (vm.booted && vm.serviceActive('kubelet.service')))
      this.report(kube, `demo/${name}`, name, ready, this.down.has(name) ? 'kubelet down (fault)' : held ? 'kubelet not ready after reboot (fault)' : 'kubelet stopped')
    }
  }

  private beatClusters(): void {
    const vms = this.options.vms()
    for (const running of this.options.clusters.all()) {
      const {kube, record} = running
      const pods = kube.cluster.all<Pod>(PODS)
      for (const node of kube.cluster.all<Node>(NODES)) {
        const name = node.metadata.name
        const member = record.members.find((m) => m.name === name)
        const vm = vms.find((v) => (member ? v.vmid === member.vmid : v.name === name))
        const up = vm !== undefined && vm.booted
        const kubelet = up && vm.serviceActive('kubelet.service')
        const server = up ? kubeconfigServer(vm.root, '/etc/kubernetes/kubelet.conf') : undefined
        const ours = server !== undefined && this.options.clusters.byEndpoint(server) === running
        if (up && ours && pods.some((p) => p.spec?.nodeName === name && installsCni(p)) && !vmPathExists(vm.root, CNI_CONFIG)) {
          writeVmFiles(vm.root, [[CNI_CONFIG, {content: CNI_CONFLIST, mode: 0o644}]])
          this.options.log(`kubelet ${name}: CNI configuration installed (${CNI_CONFIG})`)
        }

        // The mirror pods follow the containers, as the kubelet's status of the static pods does.
        if (kubelet && member?.role === 'control-plane' && this.options.pods) {
          kube.containerRunning('kube-system', `etcd-${name}`, this.options.pods.running(vm.vmid))
          for (const c of CONTROL_PLANE_COMPONENTS) kube.containerRunning('kube-system', `${c}-${name}`, this.options.pods.controlPlane.running(vm.vmid, c))
        }
        if (kubelet && ours) this.reportVersion(kube, `${record.name}/${name}`, name, vm, node)
        const cni = up && hasCniConfig(vm)
        const held = this.down.has(name) || vm?.kubeletNotReady === true
        const ready = kubelet && ours && cni && !held
        const why = !up
          ? 'VM down'
          : !kubelet
            ? 'kubelet stopped'
            : !ours
              ? 'kubelet not configured for this cluster'
              : this.down.has(name)
                ? 'kubelet down (fault)'
                : held
                  ? 'kubelet not ready after reboot (fault)'
                  : 'no CNI configuration in /etc/cni/net.d'
        // The fault's kubelet runs and posts NotReady (Ready=False), unlike a silent one (Unknown).
        this.report(kube, `${record.name}/${name}`, name, ready, why, kubelet && ours && ((!cni && !held) || (vm?.kubeletNotReady === true && !this.down.has(name))))
      }

      this.presentNewestApiServer(running, vms)
      this.serveNewestVersion(running, vms)
    }
  }

  /**
   * A kubelet reports the version of the binary it runs: the package installed in the VM when the
   * service last started. apt replacing the package changes nothing until the kubelet restarts (the
   * stub's systemctl recreates the unit's active marker at each start, so its inode and mtime tell
   * one start from the next). A restarted supervisor takes the installed version at once.
   */
  private reportVersion(kube: FakeKube, key: string, name: string, vm: LabVm, node: Node): void {
    let start: string
    try {
      const marker = statSync(path.join(vm.root, '/var/lib/kp-lab/services/active/kubelet.service'))
      start = `${marker.ino}/${marker.mtimeMs}`
    } catch {
      return
    }

    if (this.started.get(key) === start) return
    this.started.set(key, start)
    const installed = installedVersion(vm.root, 'kubelet')
    const info = node.status?.nodeInfo as {kubeletVersion?: string} | undefined
    if (!installed || info?.kubeletVersion === `v${installed}`) return
    kube.cluster.patch(NODES, undefined, name, 'application/merge-patch+json', {status: {nodeInfo: {kubeProxyVersion: `v${installed}`, kubeletVersion: `v${installed}`}}}, 'status')
    this.options.log(`kubelet ${name}: restarted at v${installed} (was ${info?.kubeletVersion ?? 'unknown'})`)
  }

  /**
   * `/version` of the endpoint: the endpoint stands for a load balancer in front of the control planes,
   * so clients see one API server or another. The lab answers the newest kube-apiserver that runs
   * (its image tag), so the version moves as soon as the first upgraded one serves and moves back if
   * it is rolled back; none running keeps the last one.
   */
  private serveNewestVersion(running: RunningCluster, vms: readonly LabVmState[]): void {
    const pods = this.options.pods?.controlPlane
    if (!pods) return
    const versions = running.record.members
      .filter((m) => m.role === 'control-plane' && vms.some((v) => v.vmid === m.vmid && v.booted))
      .map((m) => /:(v\d+\.\d+\.\d+)$/.exec(pods.image(m.vmid) ?? '')?.[1])
      .filter((v) => v !== undefined)
      .sort(compareVersions)
    const newest = versions.at(-1)
    if (newest && running.kube.setGitVersion(newest)) this.options.log(`kubeadm cluster ${running.record.name}: the endpoint answers ${newest}`)
  }

  /**
   * The endpoint stands for a TCP load balancer in front of the control planes: the certificate it
   * presents is the one the newest running kube-apiserver of the cluster loaded when it started.
   * None runs (yet): what it presented last stays, the lab API server's own at first.
   */
  private presentNewestApiServer(running: RunningCluster, vms: readonly LabVmState[]): void {
    const pods = this.options.pods?.controlPlane
    if (!pods) return
    const planes = running.record.members.filter((m) => m.role === 'control-plane')
    const serving = planes
      .map((m) => (vms.some((v) => v.vmid === m.vmid && v.booted) ? pods.serving(m.vmid) : undefined))
      .filter((s) => s !== undefined)
      .sort((a, b) => b.since - a.since)[0]
    const name = running.record.name
    // Tried once per certificate: a pair TLS refuses is logged, not retried every beat.
    if (!serving || this.presented.get(running.kube) === serving.cert + serving.key) return
    this.presented.set(running.kube, serving.cert + serving.key)
    try {
      if (running.kube.setServingCertificate(serving.cert, serving.key)) this.options.log(`kubeadm cluster ${name}: the endpoint presents the certificate of the newest running kube-apiserver`)
    } catch (error) {
      this.options.log(`kubeadm cluster ${name}: the endpoint keeps its certificate: ${error instanceof Error ? error.message : String(error)}`)
    }
  }

  /**
   * A cluster's API endpoint answers while a control plane holds the kube-apiserver manifest (the
   * endpoint is a load balancer in front of them): every manifest moved out (an etcd restore stops
   * the API servers so) stops it; one moved back starts it, reading the cluster from etcd afresh. A
   * control plane that is down counts as unchanged, so a rebooting node never stops the endpoint.
   */
  private serveClusters(): void {
    const vms = this.options.vms()
    const {clusters} = this.options
    for (const name of clusters.store.names()) {
      const record = clusters.get(name)?.record ?? clusters.store.load(name)
      const planes = record?.members.filter((m) => m.role === 'control-plane') ?? []
      if (!record || planes.length === 0 || clusters.isStarting(name)) continue
      const seen = planes.map((m) => vms.find((v) => v.vmid === m.vmid && v.booted))
      const serving = seen.some((vm) => vm !== undefined && vmPathExists(vm.root, APISERVER_MANIFEST))
      const stopped = seen.every((vm) => vm !== undefined && !vmPathExists(vm.root, APISERVER_MANIFEST))
      if (clusters.get(name) && stopped) {
        clusters.resumable.add(name)
        void clusters.stop(name).catch((error: unknown) => this.options.log(`kubeadm cluster ${name}: ${error instanceof Error ? error.message : String(error)}`))
      } else if (!clusters.get(name) && serving && clusters.resumable.has(name)) {
        void clusters.start(record).then(
          () => clusters.resumable.delete(name),
          (error: unknown) => this.options.log(`kubeadm cluster ${name}: API server not started yet: ${error instanceof Error ? error.message : String(error)}`),
        )
      }
    }
  }

  state(): {kubeletDown: string[]; nodes: Array<{name: string; ready: boolean; unschedulable: boolean}>} {
    const nodes = this.kubes().flatMap((kube) =>
      kube.list<Node>('nodes').map((n) => ({
        name: n.metadata.name,
        ready: n.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True',
        unschedulable: n.spec?.unschedulable === true,
      })),
    )
    return {kubeletDown: [...this.down].sort(), nodes}
  }
}
