/**
 * node-drain: `kubectl drain` semantics as a resumable run. Facts first (the node and its pods),
 * then a preflight that refuses before anything changes, then cordon, evictions and the wait.
 */
import path from 'node:path'

import type {Workflow} from '../../engine/types.js'
import {packageRoot} from '../../package-root.js'
import {drain} from './drain.js'
import {gatherNode, initialFacts, type NodeFacts, type NodeParams} from './facts.js'
import {preflight} from './preflight.js'

export const nodeDrain: Workflow<NodeFacts, NodeParams> = {
  initialFacts,
  name: 'node-drain',
  runbookFile: path.join(packageRoot(), 'runbooks', 'node-drain.md'),
  steps: [gatherNode({pods: true}), preflight, drain],
  title: 'Drain a node',
}
