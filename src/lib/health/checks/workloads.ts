import type {KubeDaemonSet, KubeDeployment} from '../../kube/types.js'
import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

/** None available is an outage of that workload (CRITICAL); some unavailable is degraded (WARNING). */
function availability(what: string, desired: number, available: number): Finding | undefined {
  if (desired <= 0 || available >= desired) return undefined
  return {status: available === 0 ? 'CRITICAL' : 'WARNING', text: `${what} ${available}/${desired} available`}
}

export function deploymentFinding(d: KubeDeployment): Finding | undefined {
  return availability(`deployment ${d.metadata?.namespace}/${d.metadata?.name}`, d.spec?.replicas ?? 1, d.status?.availableReplicas ?? 0)
}

export function daemonSetFinding(ds: KubeDaemonSet): Finding | undefined {
  return availability(`daemonset ${ds.metadata?.namespace}/${ds.metadata?.name}`, ds.status?.desiredNumberScheduled ?? 0, ds.status?.numberAvailable ?? 0)
}

export const workloadsCheck: Check = {
  description: 'Deployments and DaemonSets in every namespace have all their replicas available (none available: CRITICAL).',
  name: 'workloads',
  async run({kube, signal}) {
    const client = await kube()
    const [deployments, daemonSets] = await Promise.all([client.listDeployments({signal}), client.listDaemonSets({signal})])
    const findings = [...deployments.map(deploymentFinding), ...daemonSets.map(daemonSetFinding)].filter((f): f is Finding => f !== undefined)
    const count = (n: number, kind: string) => `${n} ${kind}${n === 1 ? '' : 's'}`
    return fromFindings(findings, `${count(deployments.length, 'Deployment')} and ${count(daemonSets.length, 'DaemonSet')} available`)
  },
}
