/** vm-snapshot: a named Proxmox snapshot of the nodes' VMs (disk only), e.g. before maintenance. */
import type {Step, Workflow} from '../../engine/types.js'
import {gatherVms, initialFacts, nodeOf, requireIdle, targets, type VmOpsFacts, type VmOpsParams} from './facts.js'

const takeSnapshot: Step<VmOpsFacts, VmOpsParams> = {
  concurrency: 4,
  id: 'snapshot',
  title: 'Take the snapshot',
  targets,
  async check(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const snapshots = await (await ctx.pve()).snapshots(node.pveNode, node.vmid)
    return snapshots.some((s) => s.name === ctx.params.snapshot) ? `snapshot ${String(ctx.params.snapshot)} exists` : false
  },
  plan: (ctx) => [`snapshot VM ${nodeOf(ctx, ctx.target).vmid} as ${String(ctx.params.snapshot)}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    requireIdle(ctx.facts.vms[node.name]!, 'take a snapshot')
    const name = String(ctx.params.snapshot)
    const pve = await ctx.pve()
    await ctx.mutate(`snapshot VM ${node.vmid} as ${name}`, () => pve.snapshot(node.pveNode, node.vmid, name, `kp vm snapshot ${name}`))
  },
}

export const vmSnapshot: Workflow<VmOpsFacts, VmOpsParams> = {
  initialFacts,
  name: 'vm-snapshot',
  secrets: true,
  steps: [gatherVms({requireVm: true}), takeSnapshot],
  title: 'Snapshot the VMs',
}
