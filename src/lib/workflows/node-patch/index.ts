/**
 * node-patch: Debian's updates on the nodes, one node at a time (workers first, then the control
 * planes; never two control planes at once), each node drained, upgraded, rebooted when needed and
 * given back before the next one starts. Reads like runbooks/node-patch.md.
 */
import type {Workflow} from '../../engine/types.js'
import {checkNode} from './check.js'
import {drainNode} from './drain.js'
import {gatherFacts, initialFacts, type PatchFacts, type PatchParams} from './facts.js'
import {gatherNodeFacts} from './node-facts.js'
import {rebootNode} from './reboot.js'
import {snapshotVm} from './snapshot.js'
import {uncordonNode} from './uncordon.js'
import {upgradePackages} from './upgrade.js'

export const nodePatch: Workflow<PatchFacts, PatchParams> = {
  initialFacts,
  name: 'node-patch',
  // The Proxmox token, for the snapshots.
  secrets: true,
  steps: [gatherFacts, gatherNodeFacts, checkNode, snapshotVm, drainNode, upgradePackages, rebootNode, uncordonNode],
  title: 'Patch the nodes',
}
