/** Clone the template: one VM per node, clones of one template one at a time (Proxmox locks the template). */
import type {RunContext, Step} from '../../engine/types.js'
import {ExitCode, KpError} from '../../errors.js'
import {vmDescription} from '../../vm/desired.js'
import {type SeedFacts, type SeedParams, nodeOf} from './facts.js'

/** Serialises the run's clones per template and storage: parallel clones hit Proxmox's lock timeouts. */
function serialised<T>(ctx: Pick<RunContext, 'memo'>, key: string, fn: () => Promise<T>): Promise<T> {
  const queues = ctx.memo('clone-queues', () => new Map<string, Promise<unknown>>())
  const previous = queues.get(key) ?? Promise.resolve()
  const next = previous.catch(() => undefined).then(fn)
  queues.set(key, next)
  return next
}

export const cloneTemplate: Step<SeedFacts, SeedParams> = {
  concurrency: 4,
  id: 'clone',
  title: 'Clone the template',
  targets: (ctx) => ctx.facts.nodes.map((n) => n.name),
  async check(ctx) {
    const existing = ctx.facts.vms[ctx.target!]?.summary
    if (!existing) return false
    if (existing.lock === 'clone' && !ctx.dryRun) {
      // An interrupted run's clone may still be copying: wait for it rather than cloning again.
      const pve = await ctx.pve()
      const running = (await pve.runningTasks(ctx.facts.template.node)).find((t) => t.type === 'qmclone')
      if (running) {
        ctx.log(`VM ${existing.vmid} is still being cloned (${running.upid}); waiting for that clone`)
        await pve.waitTask(ctx.facts.template.node, running.upid)
        return `VM ${existing.vmid} cloned by an earlier run`
      }

      throw new KpError('proxmox', ExitCode.stepFailed, `VM ${existing.vmid} is locked by a clone that is no longer running`, {
        hint: `remove the half-made VM by hand (qm unlock ${existing.vmid}; qm destroy ${existing.vmid}) and run kp vm seed again`,
      })
    }

    return `VM ${existing.vmid} exists`
  },
  plan(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const proxmox = ctx.config.config.proxmox!
    return [`clone template ${proxmox.templateVmid} to VM ${node.vmid} "${node.name}" on ${node.pveNode} (${proxmox.fullClone ? `full clone on ${proxmox.storage}` : 'linked clone'})`]
  },
  async run(ctx) {
    const node = nodeOf(ctx, ctx.target)
    const proxmox = ctx.config.config.proxmox!
    const {template} = ctx.facts
    const [description] = this.plan!(ctx) as string[]
    const pve = await ctx.pve()
    await serialised(ctx, `${template.node}/${template.vmid}/${proxmox.storage}`, () =>
      ctx.mutate(description!, () =>
        pve.clone(template.node, template.vmid, {
          description: vmDescription(ctx.facts.cluster, node),
          full: proxmox.fullClone,
          name: node.name,
          newid: node.vmid,
          ...(proxmox.pool ? {pool: proxmox.pool} : {}),
          ...(proxmox.fullClone ? {storage: proxmox.storage} : {}),
          ...(node.pveNode === template.node ? {} : {target: node.pveNode}),
        }),
      ),
    )
    ctx.facts.created.push(node.name)
  },
}
