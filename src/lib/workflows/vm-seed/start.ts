/** Start the VM, so cloud-init applies the configuration at its first boot. */
import type {Step} from '../../engine/types.js'
import {type SeedFacts, type SeedParams, nodeOf} from './facts.js'

export const startVm: Step<SeedFacts, SeedParams> = {
  concurrency: 4,
  id: 'start',
  title: 'Start the VM',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    const node = nodeOf(ctx, ctx.target)
    if (ctx.dryRun && !ctx.facts.vms[node.name]?.summary) return false
    const {status} = await (await ctx.pve()).status(node.pveNode, node.vmid)
    return status === 'running' ? 'running' : false
  },
  plan: (ctx) => [`start VM ${nodeOf(ctx, ctx.target).vmid}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const pve = await ctx.pve()
    await ctx.mutate(`start VM ${node.vmid}`, () => pve.start(node.pveNode, node.vmid))
  },
}
