/**
 * node-cordon and node-uncordon: one patch of spec.unschedulable each, after checking the node is
 * in kp.yaml and in the cluster. A node already in the wanted state is skipped, so both converge.
 */
import path from 'node:path'

import type {Step, Workflow} from '../../engine/types.js'
import {packageRoot} from '../../package-root.js'
import {gatherNode, initialFacts, isCordoned, kubeOf, nodeName, type NodeFacts, type NodeParams, targets} from './facts.js'

const cordon: Step<NodeFacts, NodeParams> = {
  id: 'cordon',
  title: 'Cordon the node',
  targets,
  check: (ctx) => (isCordoned(ctx.facts.node) ? 'already cordoned' : false),
  async run(ctx) {
    const name = nodeName(ctx)
    await ctx.mutate(`cordon ${name}`, () => kubeOf(ctx).setUnschedulable(name, true, {signal: ctx.signal}))
  },
}

const uncordon: Step<NodeFacts, NodeParams> = {
  id: 'uncordon',
  title: 'Uncordon the node',
  targets,
  check: (ctx) => (isCordoned(ctx.facts.node) ? false : 'already schedulable'),
  async run(ctx) {
    const name = nodeName(ctx)
    await ctx.mutate(`uncordon ${name}`, () => kubeOf(ctx).setUnschedulable(name, false, {signal: ctx.signal}))
  },
}

export const nodeCordon: Workflow<NodeFacts, NodeParams> = {
  initialFacts,
  name: 'node-cordon',
  runbookFile: path.join(packageRoot(), 'runbooks', 'node-cordon.md'),
  steps: [gatherNode({pods: false}), cordon],
  title: 'Cordon a node',
}

export const nodeUncordon: Workflow<NodeFacts, NodeParams> = {
  initialFacts,
  name: 'node-uncordon',
  runbookFile: path.join(packageRoot(), 'runbooks', 'node-uncordon.md'),
  steps: [gatherNode({pods: false}), uncordon],
  title: 'Uncordon a node',
}
