/**
 * node-drain: `kubectl drain` semantics as a resumable run. Facts first (the node and its pods),
 * then a preflight that refuses before anything changes, then cordon, evictions and the wait.
 */
import type {Workflow} from '../../engine/types.js'
import {drain} from './drain.js'
import {flag, gatherNode, initialFacts, type NodeFacts, type NodeParams} from './facts.js'
import {preflight} from './preflight.js'

export const nodeDrain: Workflow<NodeFacts, NodeParams> = {
  // Bypassing the budgets can take a service down: asked like a destructive run, and again on resume.
  confirm: (params) => (flag(params.disableEviction) ? `Delete the pods of ${params.node} without asking their PodDisruptionBudgets (--disable-eviction)?` : undefined),
  initialFacts,
  name: 'node-drain',
  steps: [gatherNode({pods: true}), preflight, drain],
  title: 'Drain a node',
}
