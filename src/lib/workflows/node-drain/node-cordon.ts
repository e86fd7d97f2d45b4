/**
 * node-cordon: one patch of spec.unschedulable, after checking the node is in kp.yaml and in the
 * cluster. A node already cordoned is skipped, so it converges.
 */
import type {Step, Workflow} from '../../engine/types.js'
import {gatherNode, initialFacts, isCordoned, nodeName, type NodeFacts, type NodeParams, targets} from './facts.js'

const cordon: Step<NodeFacts, NodeParams> = {
  id: 'cordon',
  title: 'Cordon the node',
  targets,
  check: (ctx) => (isCordoned(ctx.facts.node) ? 'already cordoned' : false),
  async run(ctx) {
    const name = nodeName(ctx)
    const kube = await ctx.kube()
    await ctx.mutate(`cordon ${name}`, () => kube.setUnschedulable(name, true, {signal: ctx.signal}))
  },
}

export const nodeCordon: Workflow<NodeFacts, NodeParams> = {
  initialFacts,
  name: 'node-cordon',
  steps: [gatherNode({pods: false}), cordon],
  title: 'Cordon a node',
}
