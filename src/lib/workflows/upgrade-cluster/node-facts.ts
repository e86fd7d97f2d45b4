/**
 * Gather the node's facts: read-only, first in each node's turn and again when a resume comes back
 * to the node in progress — the node as the API has it and its pods classified by node-drain's
 * rules, so the drain and its dry run see this node as it is now.
 */
import type {Step} from '../../engine/types.js'
import {UsageError} from '../../errors.js'
import {surveyPods} from '../node-drain/facts.js'
import {targets, type UpgradeFacts, type UpgradeParams} from './facts.js'

export const gatherNodeFacts: Step<UpgradeFacts, UpgradeParams> = {
  gathersFacts: true,
  id: 'node-facts',
  rolling: true,
  title: "Gather the node's facts",
  targets,
  async run(ctx) {
    const name = ctx.target!
    const node = await (await ctx.kube()).getNode(name, {signal: ctx.signal})
    if (!node) throw new UsageError(`node ${name} is no longer in the cluster`, {hint: 'kubectl get nodes lists what the cluster knows'})
    ctx.facts.node = node
    await surveyPods(ctx, ctx.facts.settings!)
  },
}
