/**
 * Drain the node: node-drain's own step, on this node of the rolling group — its pre-state (was
 * the node cordoned before?), its preflight again after the cordon, its PodDisruptionBudget retries
 * and timeout, and a failed drain uncordoning a node that was schedulable before.
 */
import type {Step} from '../../engine/types.js'
import {drain} from '../node-drain/drain.js'
import {idle} from './check.js'
import {type PatchFacts, type PatchParams, targets} from './facts.js'

export const drainNode: Step<PatchFacts, PatchParams> = {
  id: 'drain',
  rolling: true,
  title: 'Drain the node',
  targets,
  check: (ctx) => idle(ctx) || drain.check!(ctx),
  plan: (ctx) => drain.plan!(ctx),
  run: (ctx) => drain.run(ctx),
}
