/**
 * Upgrade kubeadm: the kubeadm package to the target first (unhold, install the repository's
 * VERSION-<revision>, hold), since kubeadm of the target minor is what upgrades the node.
 */
import type {Step} from '../../engine/types.js'
import {targets, type UpgradeFacts, type UpgradeParams} from './facts.js'
import {installPackages, packagesToChange} from './node.js'

export const upgradeKubeadm: Step<UpgradeFacts, UpgradeParams> = {
  id: 'kubeadm',
  rolling: true,
  title: 'Upgrade kubeadm',
  targets,
  check: async (ctx) => ((await packagesToChange(ctx, ['kubeadm'])) ? false : `kubeadm is at ${ctx.facts.target} and held`),
  plan: async (ctx) => (await packagesToChange(ctx, ['kubeadm'])) ?? [],
  run: (ctx) => installPackages(ctx, ['kubeadm']),
}
