/**
 * Upgrade kubelet and kubectl: both packages to the target (unhold, install VERSION-<revision>,
 * hold), on the drained node. The kubelet keeps running the old binary until it is restarted.
 */
import type {Step} from '../../engine/types.js'
import {targets, type UpgradeFacts, type UpgradeParams} from './facts.js'
import {installPackages, packagesToChange} from './node.js'

export const upgradeKubelet: Step<UpgradeFacts, UpgradeParams> = {
  id: 'kubelet',
  rolling: true,
  title: 'Upgrade kubelet and kubectl',
  targets,
  check: async (ctx) => ((await packagesToChange(ctx, ['kubelet', 'kubectl'])) ? false : `kubelet and kubectl are at ${ctx.facts.target} and held`),
  plan: async (ctx) => (await packagesToChange(ctx, ['kubelet', 'kubectl'])) ?? [],
  run: (ctx) => installPackages(ctx, ['kubelet', 'kubectl']),
}
