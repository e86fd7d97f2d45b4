/**
 * Drain the node: node-drain's own step, on this node of the rolling group — its pre-state (was the
 * node cordoned before?), its preflight again after the cordon, its PodDisruptionBudget retries and
 * timeout — as node-patch drains.
 */
import type {Step} from '../../engine/types.js'
import {drain} from '../node-drain/drain.js'
import {targets, type UpgradeFacts, type UpgradeParams} from './facts.js'

export const drainNode: Step<UpgradeFacts, UpgradeParams> = {
  id: 'drain',
  rolling: true,
  title: 'Drain the node',
  targets,
  check: (ctx) => drain.check!(ctx),
  plan: (ctx) => drain.plan!(ctx),
  run: (ctx) => drain.run(ctx),
}
