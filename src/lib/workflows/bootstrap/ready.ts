/**
 * Wait for every node to be Ready at the configured version: the joins each waited for their own
 * node, but a join cut short by an interruption is skipped on resume (its kubelet.conf exists)
 * without that wait, and a node may have dropped out since.
 */
import type {Step} from '../../engine/types.js'
import {type BootstrapFacts, type BootstrapParams} from './facts.js'
import {nodesReady, waitFor} from './wait.js'

export const waitReady: Step<BootstrapFacts, BootstrapParams> = {
  id: 'wait-ready',
  title: 'Wait for every node to be Ready',
  plan: (ctx) => [`wait until ${ctx.config.config.nodes.map((n) => n.name).join(', ')} are Ready`],
  async run(ctx) {
    const kube = await ctx.kube()
    const {config} = ctx.config
    const names = config.nodes.map((n) => n.name)
    const want = `v${config.cluster.kubernetesVersion}`
    await waitFor(
      'every node to be Ready',
      async () => {
        const ready = await nodesReady(kube, names, ctx.signal)
        if (ready !== true) return ready
        const nodes = await kube.listNodes({signal: ctx.signal})
        const other = nodes.filter((n) => names.includes(n.metadata?.name ?? '') && n.status?.nodeInfo?.kubeletVersion !== want)
        return other.length === 0 ? true : `kubelet not at ${want}: ${other.map((n) => `${n.metadata?.name} ${n.status?.nodeInfo?.kubeletVersion ?? '?'}`).join(', ')}`
      },
      {log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: 5 * 60_000},
    )
    ctx.log(`${names.length} nodes Ready at ${want}`)
  },
}
