/**
 * Snapshot the VM: before a control plane is touched, a disk-only Proxmox snapshot named after the
 * run (kp-certs-<run id>), the way back if it does not come back; node-patch's own snapshot and
 * retention (kp's maintenance snapshots of this VM beyond maintenance.snapshotKeep, never another).
 */
import type {Step} from '../../engine/types.js'
import {snapshotTaken, takeSnapshot, vmOf} from '../node-patch/snapshot.js'
import {type RotateFacts, type RotateParams, settingsOf, snapshotName, targets} from './facts.js'

export const snapshotVm: Step<RotateFacts, RotateParams> = {
  id: 'snapshot',
  rolling: true,
  title: 'Snapshot the VM',
  targets,
  check(ctx) {
    if (!settingsOf(ctx).snapshots) return ctx.config.config.proxmox ? 'no snapshot (--no-snapshot or maintenance.snapshotBeforeMaintenance: false)' : 'no proxmox section in kp.yaml'
    return snapshotTaken(ctx, snapshotName(ctx))
  },
  async plan(ctx) {
    const {vmid} = await vmOf(ctx)
    return [`snapshot VM ${vmid} as ${snapshotName(ctx)} (disk only), keeping kp's newest ${ctx.config.config.maintenance.snapshotKeep}`]
  },
  run: (ctx) => takeSnapshot(ctx, 'certs', snapshotName(ctx)),
}
