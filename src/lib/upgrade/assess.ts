/**
 * What an upgrade would start from and whether it may start: every node's versions, the targets the
 * Kubernetes package repository offers, the order kp upgrades the nodes in, and every blocker with
 * its fix. Read-only; `kp upgrade plan` prints it and `kp upgrade cluster`'s gather-facts step
 * refuses while a blocker is present. The reading is here, the judging in guards.ts (pure).
 */
import {buildReport, readNode} from '../certs/check.js'
import {controlPlanes, workers} from '../config/nodes.js'
import type {RunContext} from '../engine/types.js'
import {UsageError} from '../errors.js'
import {healthFinding} from '../health/checks/api.js'
import {etcdPods, judgeApi} from '../health/checks/etcd.js'
import {parseVersion} from '../health/skew.js'
import {availableVersions, defaultTarget} from './repository.js'
import {certificateGuards, compareVersions, controlPlaneGuards, etcdGuard, kubeletGuards, minorOf, podGuards, readyGuards, repositoryGuard, versionGuards} from './guards.js'
import {nodeVersions, readKubeadm} from './versions.js'

export type ComponentName = 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd'

export interface NodeVersions {
  name: string
  role: 'control-plane' | 'worker'
  ip: string
  ready: boolean
  /** Node.status.nodeInfo.kubeletVersion without the v: '1.30.14'. */
  kubelet?: string
  /** The kubeadm package installed on the node (dpkg), upstream part only: '1.30.14'. */
  kubeadm?: string
  /** Why kubeadm's version could not be read (SSH, not installed). */
  kubeadmError?: string
  /** Control planes: each static pod's image tag without the v ('1.30.14'; etcd's own '3.5.15-0'). */
  components: Partial<Record<ComponentName, string>>
}

export interface Blocker {
  /**
   * Stable id for tests and JSON: 'same-or-lower', 'skips-minor', 'apiservers-differ', 'control-plane-differs', 'kubelet-skew',
   * 'not-in-repository', 'node-not-ready', 'node-unreachable', 'etcd-unhealthy', 'certificates-expiring', 'pod-not-evictable'.
   */
  code: string
  /** The node it is about, when it is about one. */
  node?: string
  /** What is wrong, one sentence. */
  problem: string
  /** What to do about it, one sentence or a command. */
  fix: string
}

export interface UpgradeAssessment {
  /** The API servers' version ('1.30.14'); the lowest when they differ. */
  current: string
  /** The version asked for (--to), or the newest patch of the next minor when none was asked. */
  target?: string
  /** Upstream versions of kubeadm in the current and the next minor's repositories, ascending. */
  available: string[]
  nodes: NodeVersions[]
  /** kp.yaml's order: the first control plane (kubeadm upgrade apply), the other control planes, then the workers. */
  order: string[]
  blockers: Blocker[]
  /** Minor → why its repository's index could not be read. */
  repositoryProblems?: Record<string, string>
}

export interface AssessOptions {
  /** --to X.Y.Z; undefined: plan only (list the targets). */
  to?: string
  /** The instant certificates are judged against (tests). */
  now?: Date
  /** HTTP for the repository's index (tests). */
  fetch?: typeof fetch
}

export type AssessContext = Pick<RunContext, 'config' | 'kube' | 'log' | 'signal' | 'ssh'>

export async function assessUpgrade(ctx: AssessContext, options: AssessOptions): Promise<UpgradeAssessment> {
  const {config} = ctx.config
  const wanted = options.to?.replace(/^v/, '')
  if (wanted !== undefined && !/^\d+\.\d+\.\d+$/.test(wanted)) throw new UsageError(`--to ${options.to} is not a Kubernetes version`, {hint: 'give it as X.Y.Z, e.g. --to 1.31.4; kp upgrade plan lists the versions available'})
  const signal = ctx.signal
  const kube = await ctx.kube()
  const [apiNodes, pods, pdbs, daemonSets, readyz] = await Promise.all([
    kube.listNodes({signal}),
    kube.listPods({}, {signal}),
    kube.listPdbs({signal}),
    kube.listDaemonSets({signal}),
    kube.health('/readyz/etcd', {signal}),
  ])
  const mirrors = pods.filter((p) => p.metadata?.namespace === 'kube-system' && p.metadata.labels?.component)
  const nodes = nodeVersions(config, apiNodes, mirrors)
  // SSH to every node at once: kubeadm's package and the certificates.
  const [kubeadms, readings] = await Promise.all([
    Promise.all(config.nodes.map((n) => readKubeadm(() => ctx.ssh(n.name), signal))),
    Promise.all(config.nodes.map((n) => readNode(n, {session: () => ctx.ssh(n.name), signal}))),
  ])
  nodes.forEach((n, i) => Object.assign(n, kubeadms[i]!.kubeadm ? {kubeadm: kubeadms[i]!.kubeadm} : {kubeadmError: kubeadms[i]!.error}))

  const apiservers = nodes.flatMap((n) => (n.components['kube-apiserver'] ? [n.components['kube-apiserver']] : [])).sort(compareVersions)
  const current = apiservers[0] ?? (await kube.version({signal})).gitVersion.replace(/^v/, '')
  if (!parseVersion(current)) throw new Error(`the API server reports a version kp cannot read: ${current}`)
  ctx.log(`API server ${current}; reading the package repositories of ${minorOf(current)} and the next minor`)
  const {unreadable, versions: available} = await availableVersions(config, current, {...(options.fetch ? {fetch: options.fetch} : {}), signal})
  const target = wanted ?? defaultTarget(current, available)

  const blockers = [
    ...(target ? versionGuards(current, target) : []),
    ...controlPlaneGuards(nodes, target),
    ...kubeletGuards(nodes, current, target),
    ...(target ? repositoryGuard(target, available, unreadable[minorOf(target)]) : []),
    ...readyGuards(nodes),
    ...nodes.filter((n) => n.kubeadmError).map((n) => ({code: 'node-unreachable', fix: `make kp reach ${n.name} over SSH (kp ssh ${n.name} -- true)`, node: n.name, problem: `kp cannot read kubeadm's version on ${n.name}: ${n.kubeadmError}`})),
    ...etcdGuard(judgeApi(readyz.status === 404 ? {status: 'UNKNOWN', text: 'no /readyz/etcd check (404)'} : healthFinding('/readyz/etcd', readyz), etcdPods(mirrors.filter((p) => p.metadata?.labels?.component === 'etcd')))),
    ...certificateGuards(buildReport(config, readings.filter((r) => !r.error), options.now ?? new Date()).certificates, config.health.certificateCriticalDays),
    ...podGuards(pods, pdbs, new Set(daemonSets.map((d) => `${d.metadata?.namespace ?? 'default'}/${d.metadata?.name ?? ''}`)), config.nodes.map((n) => n.name)),
  ]
  const order = [...controlPlanes(config), ...workers(config)].map((n) => n.name)
  return {available, blockers, current, nodes, order, ...(target ? {target} : {}), ...(Object.keys(unreadable).length > 0 ? {repositoryProblems: unreadable} : {})}
}
