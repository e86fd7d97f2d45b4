/** Gather facts: the Proxmox API, the template, every VM kp.yaml names, and collisions, before any change. */
import {existsSync, readFileSync} from 'node:fs'

import {selectNodes} from '../../config/nodes.js'
import type {NodeConfig} from '../../config/schema.js'
import type {RunContext, Step} from '../../engine/types.js'
import {RefusedError, UsageError} from '../../errors.js'
import {knownHostsPath} from '../../known-hosts.js'
import type {Pve, PveVmConfig, PveVmSummary} from '../../proxmox/types.js'
import {isOwnedBy, ownerTag} from './desired.js'

export interface SeedParams extends Record<string, unknown> {
  /** Node names to seed; all when empty. */
  nodes?: string[] | string
  /** Reboot running VMs whose changes need a boot (confirmed by the command). */
  reboot?: boolean | string
}

export interface SeedFacts {
  cluster: string
  /** Nodes cloned by this run: their host keys may replace an older pin. */
  created: string[]
  knownHosts: string
  nodes: NodeConfig[]
  pve?: Pve
  /** Keys that need a reboot of a running VM, per node. */
  rebootPending: Record<string, string[]>
  sshKeys: string[]
  template: {node: string; vmid: number}
  vms: Record<string, {config?: PveVmConfig; summary?: PveVmSummary}>
}

export type SeedContext = RunContext<SeedFacts, SeedParams>

export function initialFacts(): SeedFacts {
  return {cluster: '', created: [], knownHosts: '', nodes: [], rebootPending: {}, sshKeys: [], template: {node: '', vmid: 0}, vms: {}}
}

export function pveOf(ctx: SeedContext): Pve {
  if (!ctx.facts.pve) throw new Error('the Proxmox connection is missing: the gather-facts step did not run')
  return ctx.facts.pve
}

export function nodeOf(ctx: SeedContext, name: string | undefined): NodeConfig & {pveNode: string} {
  const node = ctx.facts.nodes.find((n) => n.name === name)
  if (!node) throw new Error(`no node ${name ?? '(none)'} in this run`)
  return {...node, pveNode: node.pveNode ?? ctx.config!.config.proxmox!.node}
}

function readSshKeys(identityFile: string | undefined): string[] {
  const pub = identityFile ? `${identityFile}.pub` : undefined
  if (!pub || !existsSync(pub)) {
    throw new UsageError('kp needs the public SSH key to give the VMs through cloud-init', {
      hint: pub ? `create ${pub} (ssh-keygen -y -f ${identityFile} > ${pub})` : 'set ssh.identityFile in kp.yaml; its .pub file must be beside it',
    })
  }

  return readFileSync(pub, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
}

export const gatherFacts: Step<SeedFacts, SeedParams> = {
  gathersFacts: true,
  id: 'gather-facts',
  title: 'Gather facts',
  async run(ctx) {
    const loaded = ctx.config
    if (!loaded?.config.proxmox) throw new UsageError(`${loaded?.path ?? 'kp.yaml'} has no proxmox section, so kp cannot manage the VMs`, {hint: 'add proxmox: (see docs/configuration.md), or create the VMs yourself'})
    const {config} = loaded
    const proxmox = config.proxmox!
    const f = ctx.facts
    f.cluster = config.cluster.name
    f.nodes = selectNodes(config, ctx.params.nodes)
    f.sshKeys = readSshKeys(config.ssh.identityFile)
    f.knownHosts = knownHostsPath(config.ssh.knownHostsFile, ctx.stateDir ?? '.')

    const {pveFromConfig} = await import('../../proxmox/from-config.js')
    const pve = await pveFromConfig(loaded, {log: (line) => ctx.log(line), signal: ctx.signal})
    ctx.onClose(() => pve.close())
    f.pve = pve
    const version = await pve.version()
    ctx.log(`Proxmox VE ${version.version} at ${proxmox.endpoint}`)

    const vms = await pve.vms()
    const template = vms.find((vm) => vm.vmid === proxmox.templateVmid)
    if (!template) throw new UsageError(`the template VM ${proxmox.templateVmid} (proxmox.templateVmid) does not exist`, {hint: 'create a cloud-init template (see runbooks/vm-seed.md § Gather facts) or fix templateVmid'})
    if (!template.template) throw new RefusedError(`VM ${proxmox.templateVmid} is not a template; kp clones only templates`, {hint: `convert it with "qm template ${proxmox.templateVmid}" on ${template.node}, or fix templateVmid`})
    f.template = {node: template.node, vmid: template.vmid}

    // Refuse before any change: a VMID in use by a VM that is not this cluster's.
    const foreign: Array<{node: NodeConfig; vm: PveVmSummary}> = []
    for (const node of f.nodes) {
      const vm = vms.find((v) => v.vmid === node.vmid)
      if (!vm || isOwnedBy(vm.tags, f.cluster)) continue
      // Untagged: kp's own clone cut off before its configuration, or someone else's VM.
      const config = await pve.vmConfig(vm.node, vm.vmid)
      if (!isOwnedBy(vm.tags, f.cluster, config.description)) foreign.push({node, vm})
    }

    if (foreign.length > 0) {
      const list = foreign.map(({node, vm}) => `VMID ${node.vmid} (node ${node.name}) is "${vm.name ?? '?'}" on ${vm.node}`).join('; ')
      throw new RefusedError(`${list}, which kp does not manage for cluster ${f.cluster} (no tag ${ownerTag(f.cluster)}); nothing was changed`, {
        hint: 'give the node a free VMID in kp.yaml, or, if that VM really is this node, add the tag in Proxmox',
      })
    }

    for (const node of f.nodes) {
      const summary = vms.find((vm) => vm.vmid === node.vmid)
      f.vms[node.name] = summary ? {config: await pve.vmConfig(summary.node, node.vmid), summary} : {}
    }
  },
}
