/**
 * Install the pod network: the CNI manifest, server-side applied as field manager "kp" (a second
 * apply of the same manifest changes nothing, and kp's fields are told apart from those the CNI's
 * operator or a human set later), then wait for its DaemonSets and Deployments to roll out and the
 * first control plane to turn Ready — a node is NotReady until its network plugin is there.
 */
import type {Step} from '../../engine/types.js'
import type {KubernetesObject} from '../../kube/types.js'
import {type BootstrapFacts, type BootstrapParams, firstControlPlane} from './facts.js'
import {nodesReady, waitFor} from './wait.js'

export const FIELD_MANAGER = 'kp'
const ROLLOUT_TIMEOUT_MS = 5 * 60_000

/** Namespaces and CRDs before what lives in them or uses them; otherwise the manifest's order. */
function applyOrder(objects: readonly KubernetesObject[]): KubernetesObject[] {
  const rank = (o: KubernetesObject) => (o.kind === 'Namespace' ? 0 : o.kind === 'CustomResourceDefinition' ? 1 : 2)
  return [...objects].sort((a, b) => rank(a) - rank(b))
}

const describe = (o: KubernetesObject) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`

export const installCni: Step<BootstrapFacts, BootstrapParams> = {
  id: 'cni',
  title: 'Install the pod network',
  plan: (ctx) => ctx.facts.cni.map((o) => `server-side apply ${describe(o)}`),
  async run(ctx) {
    const kube = await ctx.kube()
    for (const object of applyOrder(ctx.facts.cni)) {
      await ctx.mutate(`apply ${describe(object)}`, () => kube.apply(object, {fieldManager: FIELD_MANAGER, force: true, signal: ctx.signal}))
    }

    ctx.log(`applied ${ctx.facts.cni.length} objects as field manager "${FIELD_MANAGER}"`)
    const {rolloutState} = await import('../../kube/rollout.js')
    const workloads = ctx.facts.cni.filter((o) => o.kind === 'DaemonSet' || o.kind === 'Deployment')
    const first = firstControlPlane(ctx).name
    await waitFor(
      'the pod network',
      async () => {
        for (const w of workloads) {
          const live = await kube.getObject(w.apiVersion!, w.kind!, w.metadata?.namespace, w.metadata!.name!, {signal: ctx.signal})
          const state = live ? rolloutState(live) : {done: false, message: 'not created yet'}
          if (!state.done) return `${describe(w)}: ${state.message}`
        }

        return nodesReady(kube, [first], ctx.signal)
      },
      {log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs: ROLLOUT_TIMEOUT_MS},
    )
  },
}
