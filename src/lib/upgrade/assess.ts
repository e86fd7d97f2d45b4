/**
 * What an upgrade would start from and whether it may start: every node's versions, the targets the
 * Kubernetes package repository offers, the order kp upgrades the nodes in, and every blocker with
 * its fix. Read-only; `kp upgrade plan` prints it and `kp upgrade cluster`'s gather-facts step
 * refuses while a blocker is present. (Skeleton: the types are the contract between the plan, the
 * guards and the workflow; the body lands with `kp upgrade plan`.)
 */
import type {RunContext} from '../engine/types.js'

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
  /** Control planes: each static pod's image tag without the v ('1.30.14'; etcd's own '3.5.15-0'). */
  components: Partial<Record<ComponentName, string>>
}

export interface Blocker {
  /** Stable id for tests and JSON: 'same-or-lower', 'skips-minor', 'apiservers-differ', 'kubelet-skew', 'not-in-repository', 'node-not-ready', 'etcd-unhealthy', 'certificates-expiring', 'pod-not-evictable', … */
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
}

export interface AssessOptions {
  /** --to X.Y.Z; undefined: plan only (list the targets). */
  to?: string
}

export async function assessUpgrade(_ctx: RunContext, _options: AssessOptions): Promise<UpgradeAssessment> {
  throw new Error('assessUpgrade: not implemented yet')
}
