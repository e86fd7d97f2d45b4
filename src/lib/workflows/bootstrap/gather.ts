/**
 * The fact-gathering steps of vm-seed and node-prepare, under bootstrap's own ids and titles (a
 * workflow's step ids and titles are unique, and both are called "Gather facts" in their own).
 */
import type {Step} from '../../engine/types.js'
import {gatherFacts as gatherFromNodes} from '../node-prepare/facts.js'
import {gatherFacts as gatherFromProxmox, type SeedFacts, type SeedParams} from '../vm-seed/facts.js'
import type {BootstrapFacts, BootstrapParams} from './facts.js'

export const proxmoxFacts: Step<SeedFacts, SeedParams> = {...gatherFromProxmox, id: 'proxmox-facts', title: 'Gather facts from Proxmox'}

export const nodeFacts: Step<BootstrapFacts, BootstrapParams> = {
  ...gatherFromNodes,
  id: 'node-facts',
  title: 'Gather facts from the nodes',
  async run(ctx) {
    // A dry run of a fresh bootstrap has no VMs to log in to yet: the node steps are planned blind.
    const missing = ctx.facts.nodes.filter((n) => !ctx.facts.vms[n.name]?.config).map((n) => n.name)
    if (ctx.dryRun && missing.length > 0) {
      ctx.log(`no VM yet for ${missing.join(', ')}: node facts are gathered once they exist`)
      return
    }

    await gatherFromNodes.run(ctx)
  },
}
