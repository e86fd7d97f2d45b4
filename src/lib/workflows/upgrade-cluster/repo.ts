/**
 * Switch the package repository: pkgs.k8s.io has one apt repository per minor, so before any package
 * moves every node's kubernetes.list points at the target minor's repository (its URL and key as
 * node-prepare computes them from kp.yaml's packages section), and the package lists are refreshed.
 * node-prepare's own playbook, k8s-repo.sh; on every node, so a node never waits on another's.
 */
import {kubernetesAptRepo} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {applyPlaybook, checkPlaybook} from '../node-prepare/playbook.js'
import {targets, type UpgradeFacts, type UpgradeParams, type UpgradeUnit} from './facts.js'

function args(ctx: UpgradeUnit): string[] {
  const {keyFingerprint, keyUrl, repoUrl} = kubernetesAptRepo(ctx.config.config, ctx.facts.target)
  return [repoUrl, keyUrl, ...(keyFingerprint ? [keyFingerprint] : [])]
}

const wouldChange = (ctx: UpgradeUnit): Promise<string[] | undefined> =>
  ctx.memo(`upgrade-cluster repo@${ctx.target!}`, async () => checkPlaybook(await ctx.ssh(ctx.target!), 'k8s-repo', args(ctx), ctx.signal))

export const switchRepository: Step<UpgradeFacts, UpgradeParams> = {
  concurrency: 6,
  id: 'switch-repo',
  title: 'Switch the package repository',
  targets,
  check: async (ctx) => ((await wouldChange(ctx)) ? false : `already the repository of ${ctx.facts.target.split('.').slice(0, 2).join('.')}`),
  plan: async (ctx) => (await wouldChange(ctx)) ?? [],
  async run(ctx) {
    const session = await ctx.ssh(ctx.target!)
    const result = await ctx.mutate(`point ${ctx.target!}'s kubernetes.list at ${args(ctx)[0]}, then apt-get update`, () => applyPlaybook(session, 'k8s-repo', args(ctx), ctx.signal))
    for (const line of result?.lines ?? []) ctx.log(line)
    if (result) ctx.markChanged(result.changed)
  },
}
