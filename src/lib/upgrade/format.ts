/** `kp upgrade plan`'s text: the versions now, the targets, what kp upgrade cluster would do node by node, and every blocker with its fix. */
import type {ChalkInstance} from 'chalk'

import {table} from '../table.js'
import type {NodeVersions, UpgradeAssessment} from './assess.js'
import {minorOf} from './guards.js'

const dash = (v: string | undefined) => v ?? '-'

/** What kp upgrade cluster --to target does on each node, in its order (kubeadm's procedure). */
export function nodeSteps(assessment: UpgradeAssessment, target: string): Array<{node: string; steps: string}> {
  const byName = new Map(assessment.nodes.map((n) => [n.name, n]))
  const packages = `kubelet and kubectl ${target}, restart the kubelet, wait until Ready at ${target}, uncordon`
  return assessment.order.map((name, i) => {
    const node = byName.get(name)
    const done = node && atTarget(node, target)
    if (done) return {node: name, steps: `already at ${target}: nothing to do`}
    const kubeadm = `kubeadm ${target} (unhold, install, hold)`
    if (i === 0) return {node: name, steps: `${kubeadm}, kubeadm upgrade plan, kubeadm upgrade apply v${target} --yes, drain, ${packages}`}
    if (node?.role === 'control-plane') return {node: name, steps: `${kubeadm}, kubeadm upgrade node, drain, ${packages}; the API and etcd healthy before the next`}
    return {node: name, steps: `${kubeadm}, kubeadm upgrade node, drain, ${packages}; its workloads available again before the next`}
  })
}

function atTarget(node: NodeVersions, target: string): boolean {
  const components = node.role === 'control-plane' ? [node.components['kube-apiserver'], node.components['kube-controller-manager'], node.components['kube-scheduler']] : []
  return [node.kubelet, node.kubeadm, ...components].every((v) => v === target)
}

export function formatPlan(report: UpgradeAssessment & {cluster: string}, c: ChalkInstance, asked = false): string {
  const out: string[] = [c.bold(`Cluster ${report.cluster}: Kubernetes ${report.current} (the API servers${new Set(report.nodes.map((n) => n.components['kube-apiserver']).filter(Boolean)).size > 1 ? ', the lowest' : ''})`), '']
  const rows = [['NODE', 'ROLE', 'READY', 'API SERVER', 'CONTROLLER MANAGER', 'SCHEDULER', 'ETCD', 'KUBELET', 'KUBEADM']]
  for (const n of report.nodes) {
    const k = n.components
    rows.push([n.name, n.role, n.ready ? 'yes' : 'no', dash(k['kube-apiserver']), dash(k['kube-controller-manager']), dash(k['kube-scheduler']), dash(k.etcd), dash(n.kubelet), n.kubeadm ?? '?'])
  }

  out.push(table(rows), '')
  const minors = [...new Set(report.available.map(minorOf))]
  const available = minors.map((m) => `${m}: ${report.available.filter((v) => minorOf(v) === m).join(', ')}`).join('; ')
  out.push(`Available in the package repository: ${available || 'nothing'}`)
  for (const [minor, why] of Object.entries(report.repositoryProblems ?? {})) out.push(c.yellow(`  ${minor}: ${why}`))
  if (!report.target) {
    out.push('', `Nothing newer than ${report.current} in the package repository: there is no upgrade to plan.`)
    return `${out.join('\n')}\n`
  }

  out.push(`Target: ${report.target}${asked ? '' : ' (the newest patch of the next minor, else of this one; --to chooses)'}`, '', c.bold(`What kp upgrade cluster --to ${report.target} would do:`))
  out.push(`  first: an etcd backup, Proxmox snapshots when maintenance.snapshotBeforeMaintenance; every node's Kubernetes apt repository switched to v${minorOf(report.target)}`)
  nodeSteps(report, report.target).forEach(({node, steps}, i) => out.push(`  ${i + 1}. ${node}: ${steps}`))
  out.push(`  last: cluster.kubernetesVersion ${report.target} in kp.yaml, then kp health`, '')
  if (report.blockers.length === 0) {
    out.push(c.green(`Nothing blocks: kp upgrade cluster --to ${report.target} can start.`))
    return `${out.join('\n')}\n`
  }

  out.push(c.red(`${report.blockers.length} blocker${report.blockers.length === 1 ? '' : 's'}: kp upgrade cluster would refuse (exit 4), changing nothing.`))
  for (const b of report.blockers) out.push(`  ${c.red(b.code)}${b.node ? ` (${b.node})` : ''}: ${b.problem}`, `    fix: ${b.fix}`)
  return `${out.join('\n')}\n`
}
