/**
 * The preflight: before the node is cordoned, name every pod the drain could not remove as asked,
 * so the operator decides with nothing changed. Read-only; a refusal is exit 4.
 */
import type {Step} from '../../engine/types.js'
import {RefusedError} from '../../errors.js'
import {describePdb, describeRefusals, refusedPods, toRemove} from './classify.js'
import {isCordoned, nodeName, type NodeContext, type NodeFacts, type NodeParams, targets} from './facts.js'

function planOf(ctx: NodeContext) {
  if (!ctx.facts.plan) throw new Error('the pods were not surveyed: the gather-facts step did not run')
  return ctx.facts.plan
}

/** The refusal for the pods the plan refuses, or undefined; also used by the drain when it looks again. */
export function refusalOf(ctx: NodeContext, changed: string): RefusedError | undefined {
  const plan = planOf(ctx)
  if (refusedPods(plan).length === 0) return undefined
  const name = nodeName(ctx)
  return new RefusedError(`cannot drain ${name}: ${describeRefusals(plan, ctx.facts.pdbs).join('; ')}. ${changed}`, {
    hint: `kp node drain ${name} --dry-run lists every pod and what would happen to it; add the flags named above once you accept what they delete.`,
  })
}

export const preflight: Step<NodeFacts, NodeParams> = {
  id: 'preflight',
  title: 'Check every pod can be evicted',
  targets,
  plan(ctx) {
    const plan = planOf(ctx)
    return refusedPods(plan).length === 0 ? [] : [`refuse, changing nothing: ${describeRefusals(plan, ctx.facts.pdbs).join('; ')}`]
  },
  run(ctx) {
    const refusal = refusalOf(ctx, `Nothing was changed${isCordoned(ctx.facts.node) ? '' : `: ${nodeName(ctx)} is not cordoned`}.`)
    if (refusal) throw refusal
    const plan = planOf(ctx)
    const skipped = plan.pods.filter((p) => p.decision.action === 'skip')
    ctx.log(`${toRemove(plan).length} pod(s) to remove, ${skipped.length} left in place${skipped.length > 0 ? `: ${skipped.map((p) => p.id).join(', ')}` : ''}`)
    for (const view of Object.values(plan.pdbs)) {
      if (view.allowed <= 0) ctx.log(`${describePdb(view)} now: kp retries its pods until it allows one, or until the timeout`)
    }
  },
}
