/**
 * Snapshot the VM: a disk-only Proxmox snapshot named after the run (src/lib/vm/maintenance-snapshots.ts),
 * the way back if the node does not come back healthy; then retention removes kp's own maintenance
 * snapshots of this VM beyond maintenance.snapshotKeep, never another one.
 */
import {findNode, pveNodeOf} from '../../config/nodes.js'
import type {Step, UnitContext} from '../../engine/types.js'
import {UsageError} from '../../errors.js'
import {type MaintenanceKind, maintenanceSnapshotDescription, snapshotsToPrune} from '../../vm/maintenance-snapshots.js'
import {idle} from './check.js'
import {type PatchFacts, type PatchParams, settingsOf, snapshotName, targets} from './facts.js'

/** The Proxmox node the VM is on now (it may have migrated since kp.yaml was written). */
export async function vmOf(ctx: Pick<UnitContext, 'config' | 'pve' | 'target'>): Promise<{pveNode: string; vmid: number}> {
  const node = findNode(ctx.config.config, ctx.target!)
  const vm = (await (await ctx.pve()).vms()).find((v) => v.vmid === node.vmid)
  if (!vm) throw new UsageError(`node ${node.name} has no VM ${node.vmid} in Proxmox`, {hint: 'kp vm list shows what exists; --no-snapshot patches without a snapshot'})
  return {pveNode: vm.node ?? pveNodeOf(ctx.config.config, node) ?? '', vmid: node.vmid}
}

export const snapshotVm: Step<PatchFacts, PatchParams> = {
  id: 'snapshot',
  rolling: true,
  title: 'Snapshot the VM',
  targets,
  async check(ctx) {
    const skip = idle(ctx)
    if (skip) return skip
    if (!settingsOf(ctx).snapshots) return ctx.config.config.proxmox ? 'no snapshot (--no-snapshot or maintenance.snapshotBeforeMaintenance: false)' : 'no proxmox section in kp.yaml'
    return snapshotTaken(ctx, snapshotName(ctx))
  },
  async plan(ctx) {
    const {vmid} = await vmOf(ctx)
    return [`snapshot VM ${vmid} as ${snapshotName(ctx)} (disk only), keeping kp's newest ${ctx.config.config.maintenance.snapshotKeep}`]
  },
  run: (ctx) => takeSnapshot(ctx, 'patch', snapshotName(ctx)),
}

/** The snapshot `name` of the unit's VM (its name in the pre-state first: the way back), then kp's retention. */
export async function takeSnapshot(ctx: UnitContext<unknown>, kind: MaintenanceKind, name: string): Promise<void> {
  const {pveNode, vmid} = await vmOf(ctx)
  const pve = await ctx.pve()
  ctx.recordPreState({snapshot: name, vmid})
  await ctx.mutate(`snapshot VM ${vmid} as ${name}`, () => pve.snapshot(pveNode, vmid, name, maintenanceSnapshotDescription(kind, ctx.runId, ctx.target!)))
  const keep = ctx.config.config.maintenance.snapshotKeep
  for (const old of snapshotsToPrune(await pve.snapshots(pveNode, vmid), keep, name)) {
    await ctx.mutate(`delete kp's older snapshot ${old.name} of VM ${vmid} (keeping the newest ${keep})`, () => pve.deleteSnapshot(pveNode, vmid, old.name))
  }
}

/** Whether this run's snapshot of the unit's VM exists already (a resume). */
export async function snapshotTaken(ctx: UnitContext<unknown>, name: string): Promise<string | false> {
  const {pveNode, vmid} = await vmOf(ctx)
  return (await (await ctx.pve()).snapshots(pveNode, vmid)).some((s) => s.name === name) ? `snapshot ${name} exists` : false
}
