/** Check the VM's address: the guest reports the IP kp.yaml gives it, so SSH reaches the right machine. */
import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {type SeedFacts, type SeedParams, nodeOf} from './facts.js'

export const checkAddress: Step<SeedFacts, SeedParams> = {
  concurrency: 8,
  id: 'address',
  title: "Check the VM's address",
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  plan: (ctx) => [`check that VM ${nodeOf(ctx, ctx.target).vmid} has ${nodeOf(ctx, ctx.target).ip}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const pve = await ctx.pve()
    const interfaces = await pve.agentInterfaces(node.pveNode, node.vmid)
    const addresses = interfaces.filter((i) => i.name !== 'lo').flatMap((i) => (i['ip-addresses'] ?? []).filter((a) => a['ip-address-type'] === 'ipv4').map((a) => a['ip-address']))
    if (!addresses.includes(node.ip)) {
      throw new KpError('proxmox', ExitCode.stepFailed, `VM ${node.vmid} (${node.name}) has ${addresses.join(', ') || 'no IPv4 address'}, but kp.yaml gives it ${node.ip}`, {
        hint: "check ipconfig0 in the VM's Cloud-Init tab and the template's cloud-init network config, then kp resume",
      })
    }
  },
}
