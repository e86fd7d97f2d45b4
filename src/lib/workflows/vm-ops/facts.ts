/**
 * Facts shared by the VM maintenance workflows (snapshot, rollback, destroy): the Proxmox connection
 * and the named nodes' VMs, each checked to be kp's for this cluster before anything changes.
 */
import {pveNodeOf, selectNodes} from '../../config/nodes.js'
import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, Step} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import type {Pve, PveVmSummary} from '../../proxmox/types.js'
import {isOwnedBy, ownerTag} from '../vm-seed/desired.js'

export interface VmOpsParams extends Record<string, unknown> {
  nodes?: string[] | string
  /** Snapshot name (snapshot, rollback). */
  snapshot?: string
}

export interface VmOpsFacts {
  nodes: Array<NodeConfig & {pveNode: string}>
  pve?: Pve
  /** The VMs as found, by node name; absent when a node has no VM. */
  vms: Record<string, PveVmSummary | undefined>
}

export type VmOpsContext = RunContext<VmOpsFacts, VmOpsParams>

export const initialFacts = (): VmOpsFacts => ({nodes: [], vms: {}})

export function pveOf(ctx: VmOpsContext): Pve {
  if (!ctx.facts.pve) throw new Error('the Proxmox connection is missing: the gather-facts step did not run')
  return ctx.facts.pve
}

export function nodeOf(ctx: VmOpsContext, name: string | undefined): NodeConfig & {pveNode: string} {
  const node = ctx.facts.nodes.find((n) => n.name === name)
  if (!node) throw new Error(`no node ${name ?? '(none)'} in this run`)
  return node
}

export const targets = (ctx: VmOpsContext): string[] => ctx.facts.nodes.map((n) => n.name)

/** A VM of ours that stands still (no clone, snapshot or rollback running on it). */
export function requireIdle(vm: PveVmSummary, what: string): void {
  if (vm.lock) throw new RefusedError(`VM ${vm.vmid} is locked (${vm.lock}); cannot ${what} now`, {hint: 'wait for the running Proxmox task to finish (see the task list in Proxmox), then resume'})
}

/**
 * Gather facts: connect, resolve the nodes (all when none is named, unless `allRequiresNames`),
 * and refuse any VM that is not tagged as this cluster's — before any change.
 */
export function gatherVms(options: {requireNames?: boolean; requireVm?: boolean} = {}): Step<VmOpsFacts, VmOpsParams> {
  return {
    gathersFacts: true,
    id: 'gather-facts',
    title: 'Gather facts',
    async run(ctx) {
      const loaded = ctx.config!
      const {config} = loaded
      const selected = selectNodes(config, ctx.params.nodes)
      if (options.requireNames && !ctx.params.nodes?.length) throw new UsageError('name the node(s)', {hint: `its nodes: ${config.nodes.map((n) => n.name).join(', ')}`})
      ctx.facts.nodes = selected.map((n) => ({...n, pveNode: pveNodeOf(config, n) ?? ''}))

      const {pveFromConfig} = await import('../../proxmox/from-config.js')
      const pve = await pveFromConfig(loaded, {log: (line) => ctx.log(line), signal: ctx.signal})
      ctx.onClose(() => pve.close())
      ctx.facts.pve = pve
      const vms = await pve.vms()
      for (const node of ctx.facts.nodes) {
        const vm = vms.find((v) => v.vmid === node.vmid)
        if (vm && !isOwnedBy(vm.tags, config.cluster.name, isOwnedBy(vm.tags, config.cluster.name) ? undefined : (await pve.vmConfig(vm.node, vm.vmid)).description)) {
          throw new RefusedError(`VMID ${node.vmid} (node ${node.name}) is "${vm.name ?? '?'}", which kp does not manage for cluster ${config.cluster.name} (no tag ${ownerTag(config.cluster.name)}); nothing was changed`)
        }

        if (!vm && options.requireVm) throw new UsageError(`node ${node.name} has no VM (VMID ${node.vmid})`, {hint: 'kp vm list shows what exists; kp vm seed creates it'})
        if (vm) node.pveNode = vm.node
        ctx.facts.vms[node.name] = vm
      }
    },
  }
}
