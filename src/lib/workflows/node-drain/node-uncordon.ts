/**
 * node-uncordon: one patch of spec.unschedulable, after checking the node is in kp.yaml and in the
 * cluster. A node already schedulable is skipped, so it converges.
 */
import type {Step, Workflow} from '../../engine/types.js'
import {gatherNode, initialFacts, isCordoned, nodeName, type NodeFacts, type NodeParams, targets} from './facts.js'

const uncordon: Step<NodeFacts, NodeParams> = {
  id: 'uncordon',
  title: 'Uncordon the node',
  targets,
  check: (ctx) => (isCordoned(ctx.facts.node) ? false : 'already schedulable'),
  async run(ctx) {
    const name = nodeName(ctx)
    const kube = await ctx.kube()
    await ctx.mutate(`uncordon ${name}`, () => kube.setUnschedulable(name, false, {signal: ctx.signal}))
  },
}

export const nodeUncordon: Workflow<NodeFacts, NodeParams> = {
  initialFacts,
  name: 'node-uncordon',
  steps: [gatherNode({pods: false}), uncordon],
  title: 'Uncordon a node',
}
