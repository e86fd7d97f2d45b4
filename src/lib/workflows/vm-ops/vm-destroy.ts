/** vm-destroy: delete one node's VM (kp-managed only) and forget its pinned host key. */
import type {Step, Workflow} from '../../engine/types.js'
import {forgetHost, knownHostsPath, pinnedFor} from '../../known-hosts.js'
import {gatherVms, initialFacts, nodeOf, requireIdle, targets, type VmOpsFacts, type VmOpsParams} from './facts.js'

const destroyVm: Step<VmOpsFacts, VmOpsParams> = {
  destructive: true,
  id: 'destroy',
  title: 'Destroy the VM',
  targets,
  async check(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const exists = (await (await ctx.pve()).vms()).some((vm) => vm.vmid === node.vmid)
    return exists ? false : `VM ${node.vmid} does not exist`
  },
  plan(ctx) {
    const node = nodeOf(ctx, ctx.target)
    return [`stop and destroy VM ${node.vmid} "${node.name}" with its disks and snapshots`]
  },
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const pve = await ctx.pve()
    const vm = ctx.facts.vms[node.name]
    if (vm) requireIdle(vm, 'destroy it')
    if ((await pve.status(node.pveNode, node.vmid)).status === 'running') await ctx.mutate(`stop VM ${node.vmid}`, () => pve.stop(node.pveNode, node.vmid))
    await ctx.mutate(`destroy VM ${node.vmid}`, () => pve.destroy(node.pveNode, node.vmid))
  },
}

const forgetHostKey: Step<VmOpsFacts, VmOpsParams> = {
  id: 'forget-host-key',
  title: 'Forget the SSH host key',
  targets,
  check(ctx) {
    const node = nodeOf(ctx, ctx.target)
    return pinnedFor(knownHostsFile(ctx), node.ip, ctx.config.config.ssh.port).length === 0 ? 'no key pinned' : false
  },
  plan: (ctx) => [`remove the pinned host key of ${nodeOf(ctx, ctx.target).ip} from ${knownHostsFile(ctx)}`],
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    await ctx.mutate(`forget host key of ${node.ip}`, () => forgetHost(knownHostsFile(ctx), node.ip, ctx.config.config.ssh.port))
  },
}

function knownHostsFile(ctx: Parameters<NonNullable<Step<VmOpsFacts, VmOpsParams>['check']>>[0]): string {
  return knownHostsPath(ctx.config.config.ssh.knownHostsFile, ctx.stateDir)
}

export const vmDestroy: Workflow<VmOpsFacts, VmOpsParams> = {
  initialFacts,
  name: 'vm-destroy',
  secrets: true,
  steps: [gatherVms({requireNames: true}), destroyVm, forgetHostKey],
  title: 'Destroy a VM',
}
