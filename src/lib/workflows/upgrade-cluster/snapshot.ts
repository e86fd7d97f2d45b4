/**
 * Snapshot the VMs: before anything of the upgrade changes, a disk-only Proxmox snapshot of every
 * node's VM named after the run (kp-upgrade-<run id>), the way back with the etcd backup; node-patch's
 * own snapshot and retention (kp's maintenance snapshots of a VM beyond maintenance.snapshotKeep).
 */
import type {Step} from '../../engine/types.js'
import {snapshotTaken, takeSnapshot, vmOf} from '../node-patch/snapshot.js'
import {snapshotName, targets, type UpgradeFacts, type UpgradeParams} from './facts.js'

export const snapshotVms: Step<UpgradeFacts, UpgradeParams> = {
  id: 'snapshot',
  title: 'Snapshot the VMs',
  targets,
  check(ctx) {
    if (!ctx.facts.snapshots) return ctx.config.config.proxmox ? 'no snapshot (--no-snapshot or maintenance.snapshotBeforeMaintenance: false)' : 'no proxmox section in kp.yaml'
    return snapshotTaken(ctx, snapshotName(ctx))
  },
  async plan(ctx) {
    const {vmid} = await vmOf(ctx)
    return [`snapshot VM ${vmid} as ${snapshotName(ctx)} (disk only), keeping kp's newest ${ctx.config.config.maintenance.snapshotKeep}`]
  },
  run: (ctx) => takeSnapshot(ctx, 'upgrade', snapshotName(ctx)),
}
