/**
 * Uncordon the node and wait for its workloads, as node-patch does (give-back.ts): the workloads
 * short before the upgrade started are named, not waited for.
 */
import type {Step} from '../../engine/types.js'
import {giveBack, giveBackPlan} from '../node-patch/give-back.js'
import {roleOf, targets, type UpgradeFacts, type UpgradeParams, waitMs} from './facts.js'

const SETTLE_TIMEOUT_MS = 10 * 60_000

export const uncordonNode: Step<UpgradeFacts, UpgradeParams> = {
  id: 'uncordon',
  rolling: true,
  title: 'Uncordon the node and wait for its workloads',
  targets,
  plan: (ctx) => giveBackPlan(ctx),
  run: (ctx) => giveBack(ctx, {controlPlane: roleOf(ctx, ctx.target!) === 'control-plane', shortBefore: ctx.facts.unhealthyBefore, timeoutMs: waitMs(SETTLE_TIMEOUT_MS)}),
}
