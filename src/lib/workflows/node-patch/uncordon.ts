/**
 * Uncordon the node and wait for the workloads: uncordon only a node that was schedulable before the
 * drain (the drain unit's pre-state), then wait until every PodDisruptionBudget is back to its
 * desired healthy count and every Deployment fully available — and for a control plane, /readyz
 * and etcd healthy — before the next node starts. A node that came back unpatched (rolled back to
 * its snapshot) is finished all the same, with a warning naming what is still pending: kp does not
 * install a rolled-back update again on its own.
 */
import {pendingCount} from '../../apt.js'
import type {Step} from '../../engine/types.js'
import {warn} from '../../warnings.js'
import {waitFor} from '../bootstrap/wait.js'
import {idle, verdictOf} from './check.js'
import {apiProblems, etcdProblems, workloadsPending} from './cluster.js'
import {type PatchFacts, type PatchParams, type PatchUnit, roleOf, settingsOf, targets, waitMs} from './facts.js'
import {readPackages} from './node.js'

const SETTLE_TIMEOUT_MS = 10 * 60_000

async function warnIfPending(ctx: PatchUnit): Promise<void> {
  const node = ctx.target!
  const now = await readPackages(ctx, false)
  const pending = pendingCount(now.simulation)
  if (pending > 0) warn(`${node} still has ${pending} package update(s) pending (rolled back to its snapshot?); kp did not install them again: kp node patch ${node} does`)
  if (now.rebootRequired && settingsOf(ctx).policy !== 'never') warn(`${node} still asks for a reboot (${now.rebootPackages.join(', ') || '/var/run/reboot-required'})`)
}

export const uncordonNode: Step<PatchFacts, PatchParams> = {
  id: 'uncordon',
  rolling: true,
  title: 'Uncordon the node and wait for its workloads',
  targets,
  check: (ctx) => idle(ctx),
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

    const controlPlane = roleOf(ctx, node) === 'control-plane'
    const before = new Set(verdictOf(ctx)?.unhealthyBefore ?? [])
    if (before.size > 0) ctx.log(`not waiting for what was short before ${node} was touched: ${[...before].join(', ')}`)
    await waitFor(`the workloads after ${node}`, async () => {
      const pending = (await workloadsPending(kube, ctx.signal)).filter((p) => !before.has(p.key)).map((p) => p.text)
      // Between control planes: the API and etcd healthy, this node's member included.
      if (controlPlane) pending.push(...(await apiProblems(kube, ctx.signal)), ...(await etcdProblems(kube, undefined, false, ctx.signal)))
      return pending.length === 0 ? true : pending.join('; ')
    }, {intervalMs: 1000, log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: waitMs(SETTLE_TIMEOUT_MS)})
    await warnIfPending(ctx)
  },
}
