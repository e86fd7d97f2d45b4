/** Gather the node's facts: node-drain's rolling step, on this workflow's nodes. */
import {gatherRollingNode} from '../node-drain/facts.js'
import {targets, type UpgradeFacts, type UpgradeParams} from './facts.js'

export const gatherNodeFacts = gatherRollingNode<UpgradeFacts, UpgradeParams>(targets)
