/**
 * Uncordon the node and wait for the workloads (give-back.ts). A node that came back unpatched
 * (rolled back to its snapshot) is finished all the same, with a warning naming what is still
 * pending: kp does not install a rolled-back update again on its own.
 */
import {pendingCount} from '../../apt.js'
import type {Step} from '../../engine/types.js'
import {warn} from '../../warnings.js'
import {idle, verdictOf} from './check.js'
import {giveBack, giveBackPlan} from './give-back.js'
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
  plan: (ctx) => giveBackPlan(ctx),
  async run(ctx) {
    const shortBefore = verdictOf(ctx)?.unhealthyBefore ?? []
    await giveBack(ctx, {controlPlane: roleOf(ctx, ctx.target!) === 'control-plane', shortBefore, timeoutMs: waitMs(SETTLE_TIMEOUT_MS)})
    await warnIfPending(ctx)
  },
}
