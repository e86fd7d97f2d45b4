/**
 * Drain the node: cordon, look at its pods again (some may have landed since the preflight), then
 * evict them and wait for them to go. Cordon and eviction are one unit so its pre-state — was the
 * node cordoned before? — is recorded once, before the first change, and kept across resumes: a
 * drain that fails puts a node that was schedulable back into service, and never lifts a cordon
 * the operator set. An interrupted or killed drain leaves the node cordoned; `kp resume` finishes.
 */
import type {Step, UnitContext} from '../../engine/types.js'
import {errorMessage, KpError} from '../../errors.js'
import {describePlan, refusedPods, toRemove} from './classify.js'
import {removePods, RETRY_MS} from './evict.js'
import {isCordoned, nodeName, type NodeFacts, type NodeParams, surveyPods, targets} from './facts.js'
import {refusalOf} from './preflight.js'

type DrainContext = UnitContext<NodeFacts, NodeParams>

/** Tests and benchmarks shorten the wait between refused evictions; operators have no need to. */
function retryMs(): number {
  const override = Number(process.env.KP_DRAIN_RETRY_MS)
  return Number.isFinite(override) && override > 0 ? override : RETRY_MS
}

async function restore(ctx: DrainContext, error: unknown, cordoned: boolean): Promise<void> {
  const name = nodeName(ctx)
  if (!cordoned || ctx.preState?.cordoned !== false || ctx.signal.aborted) return
  try {
    const kube = await ctx.kube()
    await ctx.mutate(`uncordon ${name} again: it was schedulable before the drain`, () => kube.setUnschedulable(name, false))
  } catch (uncordonError) {
    if (error instanceof KpError) error.message += `; uncordoning ${name} again failed too (${errorMessage(uncordonError)}): kp node uncordon ${name}`
  }
}

export const drain: Step<NodeFacts, NodeParams> = {
  id: 'drain',
  title: 'Drain the node',
  targets,
  check(ctx) {
    const plan = ctx.facts.plan
    if (!plan || !isCordoned(ctx.facts.node) || toRemove(plan).length > 0 || refusedPods(plan).length > 0) return false
    return 'already drained: cordoned, and no pod left to evict'
  },
  plan(ctx) {
    const plan = ctx.facts.plan!
    const refused = refusedPods(plan).length > 0 ? ['stop at the check above; with its refusals allowed, it would then:'] : []
    const cordon = isCordoned(ctx.facts.node) ? [] : [`cordon ${nodeName(ctx)}`]
    return [...refused, ...cordon, ...describePlan(plan)]
  },
  async run(ctx) {
    const name = nodeName(ctx)
    const kube = await ctx.kube()
    const settings = ctx.facts.settings!
    const started = Date.now()
    ctx.recordPreState({cordoned: isCordoned(ctx.facts.node)})
    let cordoned = isCordoned(ctx.facts.node)
    try {
      if (!cordoned) {
        // Set first: a cordon whose answer was lost may still have happened, and must be undone too.
        cordoned = true
        await ctx.mutate(`cordon ${name}`, () => kube.setUnschedulable(name, true, {signal: ctx.signal}))
        // Pods scheduled between the survey and the cordon would be missed otherwise.
        await surveyPods(ctx, settings, true)
      }

      const refusal = refusalOf(ctx, 'These pods arrived after the check.')
      if (refusal) throw refusal
      const plan = ctx.facts.plan!
      for (const entry of plan.pods) if ('warning' in entry.decision && entry.decision.warning) ctx.log(`WARNING: ${entry.id} ${entry.decision.warning}`)
      const result = await removePods({ctx, deadline: started + settings.timeoutMs, entries: toRemove(plan), kube, node: name, retryMs: retryMs(), settings})
      const left = plan.pods.filter((p) => p.decision.action === 'skip').map((p) => p.id)
      ctx.log(`${name} drained: ${result.evicted} pod(s) evicted, ${result.deleted} deleted${left.length > 0 ? `; left in place: ${left.join(', ')}` : ''}${result.skipped.length > 0 ? `; not waited for: ${result.skipped.join(', ')}` : ''}`)
    } catch (error) {
      await restore(ctx, error, cordoned)
      throw error
    }
  },
}
