/**
 * Upgrade the packages: `apt-get update`, then the simulation again — a Kubernetes package apt
 * wants to change stops the step before anything is installed — then playbooks/node-patch/upgrade.sh
 * (non-interactive, the operator's configuration files kept, an interrupted dpkg finished first, a
 * dpkg lock someone else holds waited for and then named). The Kubernetes packages' versions and
 * holds are the unit's pre-state, checked again afterwards.
 */
import {kubernetesDrift, kubernetesTouched, type NodePackages, pendingCount} from '../../apt.js'
import type {Step} from '../../engine/types.js'
import {RefusedError, StepFailedError} from '../../errors.js'
import {applyPlaybook} from '../node-prepare/playbook.js'
import {idle, verdictOf} from './check.js'
import {type PatchFacts, type PatchParams, settingsOf, targets} from './facts.js'
import {NODE_PATCH, readPackages} from './node.js'

export const upgradePackages: Step<PatchFacts, PatchParams> = {
  id: 'upgrade',
  rolling: true,
  title: 'Upgrade the packages',
  targets,
  async check(ctx) {
    const skip = idle(ctx)
    if (skip) return skip
    if (ctx.dryRun) return false
    // After kill -9 the upgrade may be done already: nothing left to install means nothing to do.
    const now = await readPackages(ctx, false)
    return pendingCount(now.simulation) === 0 && !now.dpkgInterrupted ? 'nothing left to upgrade' : false
  },
  plan: (ctx) => {
    const packages = verdictOf(ctx)?.packages ?? []
    return packages.length > 0 ? packages : ['finish what an interrupted dpkg left (dpkg --configure -a)']
  },
  async run(ctx) {
    const node = ctx.target!
    const {kind, lockSeconds} = settingsOf(ctx)
    const before = await readPackages(ctx, true)
    ctx.recordPreState({held: before.held, kubernetes: before.kubernetes})
    const touched = kubernetesTouched(before.simulation)
    if (touched.length > 0) {
      throw new RefusedError(`apt-get ${kind} would change the Kubernetes package${touched.length === 1 ? '' : 's'} ${touched.join(', ')} on ${node}; nothing was upgraded`, {
        hint: `hold them again (kp ssh ${node} -- sudo apt-mark hold ${touched.join(' ')}), then kp resume; the node stays cordoned until then (kp node uncordon ${node} to give it back as it is)`,
      })
    }

    const session = await ctx.ssh(node)
    const result = await ctx.mutate(`apt-get ${kind} on ${node}`, () => applyPlaybook(session, 'upgrade', [kind, String(lockSeconds)], ctx.signal, NODE_PATCH))
    for (const line of result?.lines ?? []) ctx.log(line)
    if (!result) return
    ctx.markChanged(result.changed)
    const after = await readPackages(ctx, false)
    const drift = kubernetesDrift(ctx.preState as Pick<NodePackages, 'held' | 'kubernetes'>, after)
    if (drift.length > 0) {
      throw new StepFailedError(`the Kubernetes packages moved on ${node}: ${drift.join('; ')}`, {
        hint: `put them back (kp ssh ${node} -- sudo apt-get install --allow-downgrades --allow-change-held-packages PKG=VERSION, then apt-mark hold PKG), then kp resume`,
      })
    }
  },
}
