/**
 * Reboot to apply changes: a running VM takes some changes (CPU, memory, cloud-init) only at its next
 * boot; Proxmox keeps them as pending. Only with --reboot (which the workflow asks to confirm); otherwise the
 * run says which VMs wait for a reboot.
 */
import type {Step} from '../../engine/types.js'
import {type SeedContext, type SeedFacts, type SeedParams, nodeOf} from './facts.js'

export const rebootWanted = (value: unknown): boolean => value === true || value === 'true'

async function pendingKeys(ctx: SeedContext & {target: string | undefined}): Promise<string[]> {
  const node = nodeOf(ctx, ctx.target)
  if (ctx.dryRun && !ctx.facts.vms[node.name]?.summary) return []
  const pve = await ctx.pve()
  const {status} = await pve.status(node.pveNode, node.vmid)
  return status === 'running' ? pve.pending(node.pveNode, node.vmid) : []
}

export const rebootVm: Step<SeedFacts, SeedParams> = {
  id: 'reboot',
  title: 'Reboot to apply changes',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    const pending = await pendingKeys(ctx)
    if (pending.length === 0) return 'nothing waits for a reboot'
    ctx.facts.rebootPending[ctx.target!] = pending
    if (!rebootWanted(ctx.params.reboot)) {
      ctx.log(`${ctx.target!}: ${pending.join(', ')} take effect at the next boot; "kp vm seed ${ctx.target!} --reboot" reboots it now`)
      return `${pending.join(', ')} wait for a reboot (--reboot)`
    }

    return false
  },
  plan: (ctx) => [`reboot VM ${nodeOf(ctx, ctx.target).vmid} to apply ${(ctx.facts.rebootPending[ctx.target!] ?? []).join(', ')}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const pve = await ctx.pve()
    await ctx.mutate(`reboot VM ${node.vmid}`, () => pve.reboot(node.pveNode, node.vmid))
  },
}
