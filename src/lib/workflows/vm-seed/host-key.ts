/**
 * Pin the SSH host key: read it through the guest agent (an authenticated channel, unlike a first
 * SSH connection) and write it to kp's known_hosts, so every later SSH connection is verified.
 */
import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {parsePublicKey, pinHostKey, pinnedFor} from '../../known-hosts.js'
import {type SeedContext, type SeedFacts, type SeedParams, nodeOf} from './facts.js'

const HOST_KEY = '/etc/ssh/ssh_host_ed25519_key.pub'

async function hostKey(ctx: SeedContext & {target: string | undefined}) {
  const node = nodeOf(ctx, ctx.target)
  const text = await (await ctx.pve()).agentFileRead(node.pveNode, node.vmid, HOST_KEY)
  const key = parsePublicKey(text)
  if (!key) throw new KpError('proxmox', ExitCode.stepFailed, `VM ${node.vmid} has no usable ${HOST_KEY}`, {hint: 'check that openssh-server is installed in the template and generated its keys at first boot'})
  return {key, node, port: ctx.config.config.ssh.port}
}

export const pinSshHostKey: Step<SeedFacts, SeedParams> = {
  concurrency: 8,
  id: 'host-key',
  title: 'Pin the SSH host key',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    if (ctx.dryRun && !ctx.facts.vms[ctx.target!]?.summary) return false
    const {key, node, port} = await hostKey(ctx)
    return pinnedFor(ctx.facts.knownHosts, node.ip, port).some((p) => p.type === key.type && p.key === key.key) ? 'already pinned' : false
  },
  plan: (ctx) => [`pin the ed25519 host key of ${nodeOf(ctx, ctx.target).ip} in ${ctx.facts.knownHosts}`],
  async run(ctx) {
    const {key, node, port} = await hostKey(ctx)
    const previous = pinnedFor(ctx.facts.knownHosts, node.ip, port).find((p) => p.type === key.type)
    if (previous) {
      // The guest agent speaks for the VM that now has this VMID; an old pin belongs to a VM that is gone.
      ctx.log(`WARNING: ${node.ip} had another ${key.type} key pinned; VM ${node.vmid} was re-created. Re-pinning the key read through the guest agent.`)
    }

    await ctx.mutate(`pin ${key.type} key of ${node.ip}`, () => pinHostKey(ctx.facts.knownHosts, node.ip, key.type, key.key, port))
  },
}
