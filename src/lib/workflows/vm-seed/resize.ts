/** Resize the disk: grow the boot disk to diskGiB. Proxmox cannot shrink a disk, so kp never tries. */
import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {bootDisk} from '../../vm/desired.js'
import {type SeedContext, type SeedFacts, type SeedParams, nodeOf} from './facts.js'

async function diskOf(ctx: SeedContext & {target: string | undefined}) {
  const node = nodeOf(ctx, ctx.target)
  if (ctx.dryRun && !ctx.facts.vms[node.name]?.summary) return {disk: undefined, node}
  const config = await (await ctx.pve()).vmConfig(node.pveNode, node.vmid)
  return {disk: bootDisk(config), node}
}

export const resizeDisk: Step<SeedFacts, SeedParams> = {
  concurrency: 4,
  id: 'resize',
  title: 'Resize the disk',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    const {disk, node} = await diskOf(ctx)
    if (!disk) return false
    if (disk.sizeGiB > node.diskGiB) ctx.log(`${node.name}: the disk is ${disk.sizeGiB} GiB, more than diskGiB ${node.diskGiB}; disks are never shrunk`)
    return disk.sizeGiB >= node.diskGiB ? `disk is ${disk.sizeGiB} GiB` : false
  },
  async plan(ctx) {
    const {disk, node} = await diskOf(ctx)
    return [`grow ${disk?.key ?? 'the boot disk'} from ${disk ? `${disk.sizeGiB} GiB` : "the template's size"} to ${node.diskGiB} GiB`]
  },
  async run(ctx) {
    const {disk, node} = await diskOf(ctx)
    if (!disk) throw new KpError('proxmox', ExitCode.stepFailed, `VM ${node.vmid} has no boot disk (scsi0, virtio0, sata0 or ide0)`, {hint: "check the template's hardware in Proxmox"})
    const pve = await ctx.pve()
    await ctx.mutate(`grow ${disk.key} to ${node.diskGiB} GiB`, () => pve.resize(node.pveNode, node.vmid, disk.key, `${node.diskGiB}G`))
  },
}
