/** Configure the VM: CPU, memory, network, cloud-init, guest agent, tags; only the keys that differ. */
import type {Step} from '../../engine/types.js'
import {configDrift, desiredVm, fixParams, NEEDS_REBOOT} from '../../vm/desired.js'
import {type SeedContext, type SeedFacts, type SeedParams, nodeOf} from './facts.js'

async function driftOf(ctx: SeedContext & {target: string | undefined}) {
  const node = nodeOf(ctx, ctx.target)
  const want = desiredVm(ctx.config.config, node, ctx.facts.sshKeys).config
  // Read fresh: the VM may have been cloned a moment ago. In a dry run a VM still to be cloned has none.
  const have = ctx.dryRun && !ctx.facts.vms[node.name]?.summary ? {} : await (await ctx.pve()).vmConfig(node.pveNode, node.vmid)
  return {drift: configDrift(want, have), have, node, want}
}

export const configureVm: Step<SeedFacts, SeedParams> = {
  concurrency: 4,
  id: 'configure',
  title: 'Configure the VM',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    const {drift} = await driftOf(ctx)
    return drift.length === 0 ? 'matches kp.yaml' : false
  },
  async plan(ctx) {
    const {drift, node} = await driftOf(ctx)
    const running = ctx.facts.vms[node.name]?.summary?.status === 'running'
    return drift.map((d) => `set ${d.key}: ${d.from} → ${d.to}${running && NEEDS_REBOOT.has(d.key) ? ' (takes effect at the next boot: --reboot)' : ''}`)
  },
  async run(ctx) {
    const {drift, have, node, want} = await driftOf(ctx)
    const keys = drift.map((d) => d.key)
    const pve = await ctx.pve()
    await ctx.mutate(`set ${keys.join(', ')}`, () => pve.setConfig(node.pveNode, node.vmid, fixParams(want, have, drift), {digest: have.digest}))
  },
}
