/** Snapshot the control-plane VMs: a way back from the whole restore, when the config asks for it. */
import {pveNodeOf} from '../../config/nodes.js'
import type {Step} from '../../engine/types.js'
import {memberOf, type RestoreFacts, type RestoreParams, targets} from './facts.js'

export const snapshotVms: Step<RestoreFacts, RestoreParams> = {
  concurrency: 4,
  id: 'snapshot-vms',
  title: 'Snapshot the control-plane VMs',
  targets,
  async check(ctx) {
    if (!ctx.config.config.maintenance.snapshotBeforeMaintenance) return 'maintenance.snapshotBeforeMaintenance is off'
    const {pveNode, vmid} = vmOf(ctx, ctx.target)
    const snapshots = await (await ctx.pve()).snapshots(pveNode, vmid)
    return snapshots.some((s) => s.name === ctx.params.tag) ? `snapshot ${ctx.params.tag} exists` : false
  },
  plan: (ctx) => [`snapshot VM ${vmOf(ctx, ctx.target).vmid} as ${ctx.params.tag}`],
  async run(ctx) {
    const {pveNode, vmid} = vmOf(ctx, ctx.target)
    const pve = await ctx.pve()
    await ctx.mutate(`snapshot VM ${vmid} as ${ctx.params.tag}`, () => pve.snapshot(pveNode, vmid, ctx.params.tag, `kp backup restore ${ctx.params.file}`))
  },
}

function vmOf(ctx: Parameters<NonNullable<typeof snapshotVms.check>>[0], target: string | undefined): {pveNode: string; vmid: number} {
  const {config} = ctx.config
  const node = config.nodes.find((n) => n.name === memberOf(ctx, target).node)!
  return {pveNode: pveNodeOf(config, node) ?? '', vmid: node.vmid}
}
