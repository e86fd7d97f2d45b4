/** Wait for SSH: the VM's sshd answers on its address, so the next workflow (node prepare) can start. */
import type {Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {waitForSsh} from '../../net/ssh-banner.js'
import {type SeedFacts, type SeedParams, nodeOf} from './facts.js'

export const waitForSshStep: Step<SeedFacts, SeedParams> = {
  concurrency: 8,
  id: 'ssh',
  title: 'Wait for SSH',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  plan: (ctx) => [`wait until SSH answers on ${nodeOf(ctx, ctx.target).ip}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const port = ctx.config.config.ssh.port
    const banner = await waitForSsh(node.ip, port, Number(ctx.params.sshTimeoutMs ?? 120_000), ctx.signal)
    if (!banner) {
      throw new KpError('ssh', ExitCode.stepFailed, `nothing answers SSH on ${node.ip}:${port} (${node.name})`, {
        hint: 'check the network path from this machine to the node (bridge, VLAN, firewall), then kp resume',
      })
    }

    ctx.log(`${node.name}: ${banner}`)
  },
}
