/**
 * Giving a node back after the rolling work on it, shared by node-patch and upgrade-cluster:
 * uncordon only a node that was schedulable before the drain (the drain unit's pre-state), then wait
 * until every PodDisruptionBudget is back to its desired healthy count and every Deployment fully
 * available — and after a control plane, /readyz and every etcd member ready — before the next node
 * starts. Workloads already short before the run touched the node are named, not waited for: they
 * would hold the rollout hostage on every node.
 */
import type {UnitContext} from '../../engine/types.js'
import {waitFor} from '../bootstrap/wait.js'
import {apiProblems, etcdProblems, workloadsPending} from './cluster.js'

export function giveBackPlan(ctx: UnitContext<{node?: {spec?: {unschedulable?: boolean}}}>): string[] {
  const wasCordoned = ctx.facts.node?.spec?.unschedulable === true
  return [wasCordoned ? `leave ${ctx.target!} cordoned (it was cordoned before)` : `uncordon ${ctx.target!}`, 'wait until every PodDisruptionBudget and Deployment is back']
}

export async function giveBack(ctx: UnitContext<object>, options: {controlPlane: boolean; shortBefore: readonly string[]; timeoutMs: number}): Promise<void> {
  const node = ctx.target!
  const kube = await ctx.kube()
  const drained = ctx.preStateOf('drain')
  if (drained?.cordoned === false) {
    const current = await kube.getNode(node, {signal: ctx.signal})
    if (current?.spec?.unschedulable === true) await ctx.mutate(`uncordon ${node}`, () => kube.setUnschedulable(node, false, {signal: ctx.signal}))
  } else if (drained?.cordoned === true) {
    ctx.log(`${node} stays cordoned: it was cordoned before kp drained it (kp node uncordon ${node} gives it back)`)
  }

  if (ctx.dryRun) return
  const before = new Set(options.shortBefore)
  if (before.size > 0) ctx.log(`not waiting for what was short before ${node} was touched: ${[...before].join(', ')}`)
  await waitFor(`the workloads after ${node}`, async () => {
    const pending = (await workloadsPending(kube, ctx.signal)).filter((p) => !before.has(p.key)).map((p) => p.text)
    // Between control planes: the API and etcd healthy, this node's member included.
    if (options.controlPlane) pending.push(...(await apiProblems(kube, ctx.signal)), ...(await etcdProblems(kube, undefined, false, ctx.signal)))
    return pending.length === 0 ? true : pending.join('; ')
  }, {intervalMs: 1000, log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: options.timeoutMs})
}
