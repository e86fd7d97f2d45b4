/**
 * Uncordon the node and wait for its workloads: uncordon only a node that was schedulable before the
 * drain (the drain unit's pre-state), then wait until every PodDisruptionBudget is back to its
 * desired healthy count and every Deployment fully available — and for a control plane, /readyz and
 * every etcd member healthy — before the next node starts, as node-patch does.
 */
import type {Step} from '../../engine/types.js'
import {waitFor} from '../bootstrap/wait.js'
import {apiProblems, etcdProblems, workloadsPending} from '../node-patch/cluster.js'
import {roleOf, targets, type UpgradeFacts, type UpgradeParams, waitMs} from './facts.js'

const SETTLE_TIMEOUT_MS = 10 * 60_000

export const uncordonNode: Step<UpgradeFacts, UpgradeParams> = {
  id: 'uncordon',
  rolling: true,
  title: 'Uncordon the node and wait for its workloads',
  targets,
  plan(ctx) {
    const wasCordoned = ctx.facts.node?.spec?.unschedulable === true
    return [wasCordoned ? `leave ${ctx.target!} cordoned (it was cordoned before)` : `uncordon ${ctx.target!}`, 'wait until every PodDisruptionBudget and Deployment is back']
  },
  async run(ctx) {
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
    const controlPlane = roleOf(ctx, node) === 'control-plane'
    const before = new Set(ctx.facts.unhealthyBefore)
    await waitFor(`the workloads after ${node}`, async () => {
      const pending = (await workloadsPending(kube, ctx.signal)).filter((p) => !before.has(p.key)).map((p) => p.text)
      // Between control planes: the API and etcd healthy, this node's member included.
      if (controlPlane) pending.push(...(await apiProblems(kube, ctx.signal)), ...(await etcdProblems(kube, undefined, false, ctx.signal)))
      return pending.length === 0 ? true : pending.join('; ')
    }, {intervalMs: 1000, log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: waitMs(SETTLE_TIMEOUT_MS)})
  },
}
