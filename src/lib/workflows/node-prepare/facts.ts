/**
 * Gather facts: log in to every node (one SSH connection per node for the whole run), read what
 * kubeadm cares about, and refuse what would make a broken cluster before anything changes.
 */
import {selectNodes} from '../../config/nodes.js'
import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, Step} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import {runPlaybook} from './playbook.js'

export interface PrepareParams extends Record<string, unknown> {
  nodes?: string[] | string
}

export interface NodeFacts {
  arch: string
  bootId: string
  cpus: number
  held: string[]
  hostname: string
  macs: string[]
  memoryMiB: number
  os: string
  osVersion: string
  packages: Record<string, string>
  productUuid: string
  swapActive: boolean
}

/** What the node-prepare steps need of a workflow's facts (bootstrap's facts have them too). */
export interface PrepareFacts {
  hosts: Record<string, NodeFacts>
  nodes: NodeConfig[]
}

export type PrepareContext = RunContext<PrepareFacts, PrepareParams>

export const initialFacts = (): PrepareFacts => ({hosts: {}, nodes: []})

export function nodeOf(ctx: PrepareContext, name: string | undefined): NodeConfig {
  const node = ctx.facts.nodes.find((n) => n.name === name)
  if (!node) throw new Error(`no node ${name ?? '(none)'} in this run`)
  return node
}

const SUPPORTED = new Set(['debian', 'ubuntu'])

/** What must hold across the nodes: kubeadm's own preflight would fail later, and less clearly. */
function problems(nodes: NodeConfig[], hosts: Record<string, NodeFacts>): string[] {
  const out: string[] = []
  for (const node of nodes) {
    const f = hosts[node.name]!
    if (!SUPPORTED.has(f.os)) out.push(`${node.name} runs ${f.os} ${f.osVersion}; kp prepares Debian and Ubuntu nodes`)
    if (node.role === 'control-plane' && f.cpus < 2) out.push(`${node.name} has ${f.cpus} CPU; a control plane needs at least 2 (kubeadm preflight)`)
    if (node.role === 'control-plane' && f.memoryMiB < 1700) out.push(`${node.name} has ${f.memoryMiB} MiB of memory; a control plane needs at least 1700 MiB (kubeadm preflight)`)
  }

  // Kubernetes identifies nodes by these: clones that share them confuse the kubelet and CNIs.
  const seen = new Map<string, string>()
  for (const node of nodes) {
    const f = hosts[node.name]!
    for (const [what, value] of [['product_uuid', f.productUuid], ...f.macs.map((m) => ['MAC address', m] as const)] as const) {
      if (!value) continue
      const other = seen.get(`${what} ${value}`)
      if (other) out.push(`${node.name} and ${other} share the ${what} ${value}; clone the VMs again (Proxmox gives each clone its own)`)
      else seen.set(`${what} ${value}`, node.name)
    }
  }

  return out
}

export const gatherFacts: Step<PrepareFacts, PrepareParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    ctx.facts.nodes = selectNodes(ctx.config.config, ctx.params.nodes)
    await Promise.all(
      ctx.facts.nodes.map(async (node) => {
        const session = await ctx.ssh(node.name)
        const {code, stdout} = await runPlaybook(session, 'facts', [], ctx.signal)
        if (code !== 0) throw new UsageError(`${node.name}: cannot read its facts (facts.sh exited ${code})`)
        ctx.facts.hosts[node.name] = JSON.parse(stdout) as NodeFacts
      }),
    )
    const found = problems(ctx.facts.nodes, ctx.facts.hosts)
    if (found.length > 0) throw new RefusedError(`${found.join('; ')}; nothing was changed`)
    const unread = ctx.facts.nodes.filter((n) => !ctx.facts.hosts[n.name]!.productUuid).map((n) => n.name)
    if (unread.length > 0) ctx.log(`WARNING: no product_uuid readable on ${unread.join(', ')}: its uniqueness is not checked there`)
  },
}
