/**
 * What node-patch asks of the cluster before it touches a node and after it gives one back: the
 * API's /readyz, every other node Ready, etcd's members (their mirror pods, as kp health reads them)
 * with the quorum rule for control planes, and the workloads back to what their budgets want.
 */
import {errorMessage} from '../../errors.js'
import {etcdPods} from '../../health/checks/etcd.js'
import {deploymentFinding} from '../../health/checks/workloads.js'
import type {Kube} from '../../kube/types.js'
import {isReady} from '../bootstrap/wait.js'

/** The API server's /readyz, as a problem when it fails. */
export async function apiProblems(kube: Kube, signal: AbortSignal): Promise<string[]> {
  const readyz = await kube.health('/readyz', {signal, verbose: true}).catch((error: unknown) => ({body: errorMessage(error), ok: false, status: 0}))
  if (readyz.ok) return []
  const failed = readyz.body.split('\n').filter((l) => l.startsWith('[-]')).map((l) => l.slice(3).split(' ')[0])
  return [`the API server is not ready (/readyz ${readyz.status || 'no answer'}${failed.length > 0 ? `: ${failed.join(', ')} failed` : ''})`]
}

/** etcd members (their mirror pods) not ready, but the one on `except`; said as a quorum risk for a control plane. */
export async function etcdProblems(kube: Kube, except: string | undefined, controlPlane: boolean, signal: AbortSignal): Promise<string[]> {
  const members = etcdPods(await kube.listPods({labelSelector: 'component=etcd', namespace: 'kube-system'}, {signal}))
  const down = members.filter((m) => m.node !== except && !m.ready).map((m) => `${m.name}${m.why ? ` (${m.why})` : ''}`)
  if (down.length === 0) return []
  const are = down.length === 1 ? 'is' : 'are'
  return [controlPlane && except ? `etcd member ${down.join(', ')} ${are} not ready: taking ${except}'s member down as well could lose etcd's quorum` : `etcd member ${down.join(', ')} ${are} not ready`]
}

/** Why the cluster cannot lose `node` now; empty when it can. */
export async function clusterProblems(kube: Kube, node: string, controlPlane: boolean, signal: AbortSignal): Promise<string[]> {
  const others = (await kube.listNodes({signal})).filter((n) => n.metadata?.name !== node && !isReady(n)).map((n) => n.metadata?.name ?? '?')
  return [
    ...(await apiProblems(kube, signal)),
    ...(others.length > 0 ? [`${others.join(', ')} ${others.length === 1 ? 'is' : 'are'} not Ready: patching ${node} too would take more capacity away`] : []),
    ...(await etcdProblems(kube, node, controlPlane, signal)),
  ]
}

/** A workload that is not back yet: `key` names it ("PodDisruptionBudget shop/web"), `text` says how far it is. */
export interface Pending {
  key: string
  text: string
}

/** What is not back yet: budgets below their desired healthy count, Deployments not fully available. */
export async function workloadsPending(kube: Kube, signal: AbortSignal): Promise<Pending[]> {
  const [pdbs, deployments] = await Promise.all([kube.listPdbs({signal}), kube.listDeployments({signal})])
  const out: Pending[] = []
  for (const pdb of pdbs) {
    const s = pdb.status
    const key = `PodDisruptionBudget ${pdb.metadata?.namespace}/${pdb.metadata?.name}`
    if (s && s.expectedPods > 0 && s.currentHealthy < s.desiredHealthy) out.push({key, text: `${key} has ${s.currentHealthy} of ${s.desiredHealthy} healthy pods`})
  }

  for (const d of deployments) {
    const finding = deploymentFinding(d)
    if (finding) out.push({key: `Deployment ${d.metadata?.namespace}/${d.metadata?.name}`, text: finding.text})
  }

  return out
}
