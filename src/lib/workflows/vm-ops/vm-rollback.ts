/**
 * vm-rollback: return the nodes' VMs to a snapshot. Proxmox stops a running VM hard to roll it back;
 * kp shuts it down gracefully first and starts it again afterwards if it was running. One step per
 * VM, so a resumed run knows (from the unit's pre-state) whether to start it again.
 */
import type {Step, Workflow} from '../../engine/types.js'
import {UsageError} from '../../errors.js'
import {gatherVms, initialFacts, nodeOf, requireIdle, targets, type VmOpsFacts, type VmOpsParams} from './facts.js'

const SHUTDOWN_TIMEOUT_S = 120

const checkSnapshot: Step<VmOpsFacts, VmOpsParams> = {
  gathersFacts: true,
  id: 'check-snapshot',
  title: 'Check the snapshot exists',
  async run(ctx) {
    const missing: string[] = []
    const pve = await ctx.pve()
    for (const node of ctx.facts.nodes) {
      const snapshots = await pve.snapshots(node.pveNode, node.vmid)
      if (!snapshots.some((s) => s.name === ctx.params.snapshot)) missing.push(`${node.name} (VM ${node.vmid})`)
    }

    if (missing.length > 0) throw new UsageError(`no snapshot ${String(ctx.params.snapshot)} on ${missing.join(', ')}; nothing was changed`, {hint: 'list them in Proxmox (Snapshots tab, or qm listsnapshot VMID)'})
  },
}

const rollBack: Step<VmOpsFacts, VmOpsParams> = {
  concurrency: 4,
  destructive: true,
  id: 'rollback',
  title: 'Roll back to the snapshot',
  targets,
  plan(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const running = ctx.facts.vms[node.name]?.status === 'running'
    return [
      ...(running ? [`shut VM ${node.vmid} down (up to ${SHUTDOWN_TIMEOUT_S} s, then stop; stopped at once when its guest agent does not answer)`] : []),
      `roll VM ${node.vmid} back to ${String(ctx.params.snapshot)}: every change since then is lost`,
      ...(running ? [`start VM ${node.vmid} again`] : []),
    ]
  },
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const pve = await ctx.pve()
    const name = String(ctx.params.snapshot)
    requireIdle(ctx.facts.vms[node.name]!, 'roll it back')
    // Kept from the first attempt: a resumed run still knows the VM was running before kp stopped it.
    ctx.recordPreState({running: ctx.facts.vms[node.name]?.status === 'running'})
    const wasRunning = ctx.preState?.running === true
    if ((await pve.status(node.pveNode, node.vmid)).status === 'running') {
      // A guest whose boot hangs (the reason for many a rollback) ignores ACPI: a shutdown would only
      // wait out its timeout. Without an answering guest agent there is nothing to shut down cleanly.
      if (await pve.agentPing(node.pveNode, node.vmid)) {
        await ctx.mutate(`shut VM ${node.vmid} down`, () => pve.shutdown(node.pveNode, node.vmid, SHUTDOWN_TIMEOUT_S))
      } else {
        await ctx.mutate(`stop VM ${node.vmid}: its guest agent does not answer, so a clean shutdown cannot be asked`, () => pve.stop(node.pveNode, node.vmid))
      }
    }

    await ctx.mutate(`roll VM ${node.vmid} back to ${name}`, () => pve.rollback(node.pveNode, node.vmid, name))
    if (wasRunning) await ctx.mutate(`start VM ${node.vmid}`, () => pve.start(node.pveNode, node.vmid))
  },
}

export const vmRollback: Workflow<VmOpsFacts, VmOpsParams> = {
  initialFacts,
  name: 'vm-rollback',
  secrets: true,
  steps: [gatherVms({requireVm: true}), checkSnapshot, rollBack],
  title: 'Roll the VMs back',
}
