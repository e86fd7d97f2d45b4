/** Readable helpers over the nodes and packages of a loaded config, for workflows and steps. */
import {UsageError} from '../errors.js'
import type {KpConfig, NodeConfig} from './schema.js'

export function controlPlanes(config: KpConfig): NodeConfig[] {
  return config.nodes.filter((n) => n.role === 'control-plane')
}

export function workers(config: KpConfig): NodeConfig[] {
  return config.nodes.filter((n) => n.role === 'worker')
}

/** The node called `name`, or a usage error that lists the nodes there are. */
export function findNode(config: KpConfig, name: string): NodeConfig {
  const node = config.nodes.find((n) => n.name === name)
  if (!node) throw new UsageError(`no node named "${name}" in the configuration; its nodes are ${config.nodes.map((n) => n.name).join(', ')}`)
  return node
}

/**
 * The nodes a command names (a workflow's `nodes` param: a list, or comma-separated from
 * `kp run --param`), all of them when it names none; a usage error for a name kp.yaml lacks.
 */
export function selectNodes(config: KpConfig, wanted: readonly string[] | string | undefined): NodeConfig[] {
  const names = (Array.isArray(wanted) ? wanted : String(wanted ?? '').split(',')).map((s: string) => s.trim()).filter(Boolean)
  const unknown = names.filter((n) => !config.nodes.some((node) => node.name === n))
  if (unknown.length > 0) throw new UsageError(`kp.yaml has no node ${unknown.join(', ')}`, {hint: `its nodes: ${config.nodes.map((n) => n.name).join(', ')}`})
  return names.length === 0 ? config.nodes : config.nodes.filter((n) => names.includes(n.name))
}

/** The Proxmox node a VM lives on: its own pveNode, else proxmox.node. */
export function pveNodeOf(config: KpConfig, node: NodeConfig): string | undefined {
  return node.pveNode ?? config.proxmox?.node
}

/**
 * The Kubernetes apt repository for a version's minor (`1.31.4` → v1.31), its signing key, and the
 * fingerprint the key must have when kp.yaml pins one.
 */
export function kubernetesAptRepo(config: KpConfig, version: string): {keyFingerprint?: string; keyUrl: string; repoUrl: string} {
  const minor = version.replace(/^v/, '').split('.').slice(0, 2).join('.')
  const repoUrl = `${config.packages.kubernetesRepoBase}/v${minor}/deb/`
  const keyFingerprint = config.packages.kubernetesKeyFingerprint
  return {...(keyFingerprint ? {keyFingerprint} : {}), keyUrl: config.packages.kubernetesKeyUrl ?? `${repoUrl}Release.key`, repoUrl}
}
