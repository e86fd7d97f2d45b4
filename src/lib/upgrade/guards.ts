/**
 * The upgrade's guards, pure functions over plain data, so every refusal is unit-tested and `kp
 * upgrade plan` and `kp upgrade cluster` refuse for the same reasons with the same words. Each
 * returns the blockers it finds (empty: nothing blocks). The rules are kubeadm's and the version
 * skew policy's: one minor at a time, every control-plane component at one version before the next
 * upgrade starts, no kubelet newer than the API server nor more than MAX_KUBELET_MINORS_BEHIND
 * minors behind it once the control plane is at the target.
 */
import type {CertificateRow} from '../certs/check.js'
import {MAX_KUBELET_MINORS_BEHIND, parseVersion, type Version} from '../health/skew.js'
import type {Finding} from '../health/status.js'
import {classifyPods, describePdb, type PdbLike, type PodLike, type Refusal, viewPdb} from '../workflows/node-drain/classify.js'
import type {Blocker, ComponentName, NodeVersions} from './assess.js'

/** Negative when a < b; versions kp cannot parse sort first. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a)
  const y = parseVersion(b)
  if (!x || !y) return x ? 1 : y ? -1 : 0
  return x.major - y.major || x.minor - y.minor || x.patch - y.patch
}

export const minorOf = (v: string): string => v.replace(/^v/, '').split('.').slice(0, 2).join('.')
const minorsBetween = (from: Version, to: Version) => (to.major - from.major) * 1000 + to.minor - from.minor

/** The next minor's name: `1.30.14` → `1.31`. */
export function nextMinor(version: string): string {
  const v = parseVersion(version)
  return v ? `${v.major}.${v.minor + 1}` : ''
}

/** Same or lower version; more than one minor ahead (kubeadm refuses to skip a minor). */
export function versionGuards(current: string, target: string): Blocker[] {
  const from = parseVersion(current)
  const to = parseVersion(target)
  if (!from || !to) return []
  if (compareVersions(target, current) <= 0) {
    return [{code: 'same-or-lower', fix: `choose a version above ${current} (kp upgrade plan lists them); kp never downgrades`, problem: `the target ${target} is ${compareVersions(target, current) === 0 ? 'the version the cluster runs' : `lower than the cluster's ${current}`}`}]
  }

  const minors = minorsBetween(from, to)
  if (minors > 1) {
    const next = `${from.major}.${from.minor + 1}`
    return [{code: 'skips-minor', fix: `upgrade one minor at a time: kp upgrade cluster --to the newest ${next}.x first (kp upgrade plan names it), then to ${minorOf(target)}`, problem: `${target} is ${minors} minors above ${current}; kubeadm upgrades one minor at a time`}]
  }

  return []
}

const COMPONENTS: readonly ComponentName[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler']

/**
 * Every API server, controller manager and scheduler on every control plane at one version, else a
 * previous upgrade stopped half-way: finish it (to the newest of them) before starting another.
 */
export function controlPlaneGuards(nodes: readonly NodeVersions[], target?: string): Blocker[] {
  const planes = nodes.filter((n) => n.role === 'control-plane')
  const seen = planes.flatMap((n) => COMPONENTS.flatMap((c) => (n.components[c] ? [{component: c, node: n.name, version: n.components[c]}] : [])))
  const versions = [...new Set(seen.map((s) => s.version))].sort(compareVersions)
  if (versions.length <= 1) return []
  const newest = versions.at(-1)!
  // Finishing that upgrade is what the fix says, so an upgrade to the newest of them (a resume) must not be refused.
  if (target && compareVersions(target, newest) === 0) return []
  const behind = seen.filter((s) => s.version !== newest).map((s) => `${s.component} ${s.version} on ${s.node}`)
  const apiservers = new Set(seen.filter((s) => s.component === 'kube-apiserver').map((s) => s.version))
  return [{
    code: apiservers.size > 1 ? 'apiservers-differ' : 'control-plane-differs',
    fix: `finish the last upgrade first: kp upgrade cluster --to ${newest}`,
    problem: `the control plane runs ${versions.join(' and ')}: ${behind.join(', ')} ${behind.length === 1 ? 'is' : 'are'} behind ${newest}`,
  }]
}

/** Kubelets newer than the API server (unsupported) or too far behind the target (unsupported once the control plane is there). */
export function kubeletGuards(nodes: readonly NodeVersions[], apiserver: string, target: string | undefined): Blocker[] {
  const api = parseVersion(apiserver)
  const to = target ? parseVersion(target) : undefined
  // Half-way through an upgrade the upgraded control planes' kubelets are at their own API server's version: newer than the newest is the fault.
  const newest = [apiserver, ...nodes.flatMap((n) => (n.components['kube-apiserver'] ? [n.components['kube-apiserver']] : []))].sort(compareVersions).at(-1)!
  const blockers: Blocker[] = []
  for (const node of nodes) {
    const kubelet = node.kubelet ? parseVersion(node.kubelet) : undefined
    if (!kubelet || !api) continue
    if (compareVersions(node.kubelet!, newest) > 0) {
      blockers.push({code: 'kubelet-skew', fix: `finish the last upgrade first: kp upgrade cluster --to ${node.kubelet}`, node: node.name, problem: `the kubelet on ${node.name} runs ${node.kubelet}, newer than the API server ${newest} (unsupported)`})
      continue
    }

    const behind = to ? minorsBetween(kubelet, to) : 0
    if (behind > MAX_KUBELET_MINORS_BEHIND) {
      blockers.push({
        code: 'kubelet-skew',
        fix: `upgrade ${node.name}'s kubelet to ${minorOf(apiserver)} first (kp upgrade cluster --to ${apiserver}), or choose a lower target`,
        node: node.name,
        problem: `the kubelet on ${node.name} runs ${node.kubelet}: ${behind} minors behind ${target}, at most ${MAX_KUBELET_MINORS_BEHIND} are supported`,
      })
    }
  }

  return blockers
}

/** The target must be in the repository kp will switch the nodes to (`unreadable`: why that index could not be read). */
export function repositoryGuard(target: string, available: readonly string[], unreadable?: string): Blocker[] {
  if (available.includes(target)) return []
  if (unreadable) return [{code: 'not-in-repository', fix: 'check packages.kubernetesRepoBase and that this machine reaches the repository, then run kp upgrade plan again', problem: `cannot tell whether ${target} is in the package repository: ${unreadable}`}]
  const same = available.filter((v) => minorOf(v) === minorOf(target))
  const has = same.length > 0 ? `its ${minorOf(target)} repository has ${same.join(', ')}` : `there is no ${minorOf(target)} repository or it carries no kubeadm, kubelet and kubectl`
  return [{code: 'not-in-repository', fix: same.length > 0 ? `choose a version it has: kp upgrade cluster --to ${same.at(-1)}` : 'check packages.kubernetesRepoBase, or choose a version kp upgrade plan lists', problem: `kubeadm, kubelet and kubectl ${target} are not in the package repository (${has})`}]
}

/** Every node of kp.yaml registered and Ready. */
export function readyGuards(nodes: readonly NodeVersions[]): Blocker[] {
  return nodes
    .filter((n) => !n.ready)
    .map((n) => ({
      code: 'node-not-ready',
      fix: `make ${n.name} Ready first (kubectl describe node ${n.name}; kp health)`,
      node: n.name,
      problem: n.kubelet ? `${n.name} is not Ready` : `${n.name} is not registered with the API server`,
    }))
}

/** etcd as kp health's etcd check judges it from the API: anything but OK blocks (an upgrade restarts every member). */
export function etcdGuard(findings: readonly Finding[]): Blocker[] {
  const bad = findings.filter((f) => f.status !== 'OK' && !(f.status === 'UNKNOWN' && f.text.includes('(404)')))
  if (bad.length === 0) return []
  return [{code: 'etcd-unhealthy', fix: 'bring every etcd member back first (kp health --deep --check etcd names them)', problem: `etcd is not healthy: ${bad.map((f) => f.text).join('; ')}`}]
}

/**
 * Certificates that expire within the maintenance window, which kp takes as
 * health.certificateCriticalDays (kp health's CRITICAL): an upgrade restarts every component with
 * them, and a CA that expires cannot be renewed by kubeadm at all.
 */
export function certificateGuards(rows: readonly CertificateRow[], criticalDays: number): Blocker[] {
  const soon = rows.filter((r) => r.daysLeft !== null && r.daysLeft < criticalDays)
  const byNode = new Map<string, CertificateRow[]>()
  for (const r of soon) byNode.set(r.node, [...(byNode.get(r.node) ?? []), r])
  return [...byNode].map(([node, list]) => {
    const names = list.map((r) => `${r.name} ${r.daysLeft! < 0 ? 'expired' : `in ${r.daysLeft} day${r.daysLeft === 1 ? '' : 's'}`}`)
    const cas = list.filter((r) => r.kind === 'ca').length > 0
    const kubelet = list.filter((r) => r.kind === 'kubelet-client').length > 0
    const fix = cas ? 'a CA expires: replace it by hand first (runbooks/certs-rotate.md; kp does not rotate CAs)'
      : kubelet ? `renew the kubelet's client certificate on ${node} first (kp certs check names why it does not rotate)`
      : `renew them first: kp certs rotate ${node}`
    return {code: 'certificates-expiring', fix, node, problem: `certificates on ${node} expire within ${criticalDays} days (health.certificateCriticalDays): ${names.join(', ')}`}
  })
}

const podFix: Record<Refusal['kind'], (pod: string, refusal: Refusal) => string> = {
  'daemonset-gone': (pod) => `delete it (its DaemonSet is gone): kubectl delete pod -n ${pod.replace('/', ' ')}`,
  emptydir: (pod) => `accept that its emptyDir data is lost, or move the pod ${pod} off its node first`,
  pdb: (_pod, r) => `scale the workload up or relax PodDisruptionBudget ${(r as {pdb: string}).pdb} (maxUnavailable of 1 or more, or minAvailable below its replicas)`,
  'several-pdbs': (_pod, r) => `leave one PodDisruptionBudget over the pod: ${(r as {pdbs: string[]}).pdbs.join(' and ')} both select it`,
  unmanaged: (pod) => `run it under a Deployment or StatefulSet, or delete it: kubectl delete pod -n ${pod.replace('/', ' ')}`,
}

/**
 * Pods on the nodes that a drain can never evict, whatever the time: under a budget that needs
 * every pod it expects (maxUnavailable 0, minAvailable ≥ replicas), under two budgets, without a
 * controller, or of a DaemonSet that is gone. A budget at 0 only because pods are starting frees
 * up by itself and does not block. The rules are kp node drain's (classify.ts), with emptyDir
 * data given up, as the upgrade's drains do.
 */
export function podGuards(pods: readonly (PodLike & {spec?: {nodeName?: string}})[], pdbs: readonly PdbLike[], daemonSets: ReadonlySet<string>, nodes: readonly string[]): Blocker[] {
  const onNodes = pods.filter((p) => p.spec?.nodeName && nodes.includes(p.spec.nodeName))
  const plan = classifyPods([...onNodes], [...pdbs], daemonSets, {deleteEmptydirData: true, disableEviction: false, force: false, skipWaitForDeleteTimeoutSeconds: 0})
  const blockers: Blocker[] = []
  for (const entry of plan.pods) {
    if (entry.decision.action !== 'refuse') continue
    const node = (entry.pod as {spec?: {nodeName?: string}}).spec?.nodeName
    for (const r of entry.decision.refusals) {
      const budget = r.kind === 'pdb' ? pdbs.find((b) => `${b.metadata?.namespace ?? 'default'}/${b.metadata?.name}` === r.pdb) : undefined
      const why =
        r.kind === 'pdb' ? (budget ? `${describePdb(viewPdb(budget))}, even with every pod healthy` : `PodDisruptionBudget ${r.pdb} allows no disruption`)
        : r.kind === 'several-pdbs' ? `more than one PodDisruptionBudget selects it (${r.pdbs.join(', ')}), which the Eviction API refuses`
        : r.kind === 'unmanaged' ? 'it declares no controller, so nothing would re-create it'
        : r.kind === 'daemonset-gone' ? `its DaemonSet ${r.daemonSet} is gone`
        : 'its emptyDir data would be lost'
      blockers.push({code: 'pod-not-evictable', fix: podFix[r.kind](entry.id, r), ...(node ? {node} : {}), problem: `pod ${entry.id}${node ? ` on ${node}` : ''} can never be evicted: ${why}`})
    }
  }

  return blockers
}
