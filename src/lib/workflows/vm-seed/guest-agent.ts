/** Wait for the guest agent: the VM booted far enough to answer, and kp can read it. */
import {setTimeout as sleep} from 'node:timers/promises'

import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {type SeedFacts, type SeedParams, nodeOf} from './facts.js'

export const AGENT_TIMEOUT_MS = 5 * 60_000

export const waitForAgent: Step<SeedFacts, SeedParams> = {
  concurrency: 8,
  id: 'guest-agent',
  title: 'Wait for the guest agent',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  plan: (ctx) => [`wait until the guest agent of VM ${nodeOf(ctx, ctx.target).vmid} answers`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const timeoutMs = Number(ctx.params.agentTimeoutMs ?? AGENT_TIMEOUT_MS)
    const deadline = Date.now() + timeoutMs
    const pve = await ctx.pve()
    for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
      if (await pve.agentPing(node.pveNode, node.vmid)) return
      if (Date.now() + delay > deadline) break
      await sleep(delay, undefined, {signal: ctx.signal})
    }

    throw new KpError('proxmox', ExitCode.stepFailed, `the guest agent of VM ${node.vmid} (${node.name}) did not answer within ${Math.round(timeoutMs / 1000)} s`, {
      hint: `check that the template has qemu-guest-agent installed and enabled, and look at the VM's console in Proxmox; then kp resume`,
    })
  },
}
