/** What `kp config validate` reports about a valid file. */
import type {LoadedConfig} from './load.js'
import {controlPlanes} from './nodes.js'
import type {KpConfig} from './schema.js'

export interface ValidateResult {
  cluster: {controlPlaneEndpoint: string; kubernetesVersion: string; name: string}
  hash: string
  nodes: Array<{ip: string; name: string; role: string; vmid: number}>
  path: string
  proxmox: boolean
  /** Whether secrets were resolved (they are never shown). */
  secretsChecked: boolean
  valid: true
  /** Allowed, but probably not what you want. */
  warnings: string[]
}

export function summarize(loaded: LoadedConfig): {lines: string[]; result: ValidateResult} {
  const {cluster, nodes, proxmox} = loaded.config
  const names = (role: string) => nodes.filter((n) => n.role === role).map((n) => n.name)
  const cps = names('control-plane')
  const workers = names('worker')
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`
  const secretNote = proxmox ? (loaded.secrets ? ', token secret readable' : ', token secret not checked') : ''
  const notes = warnings(loaded.config)
  const lines = [
    `${loaded.path} is valid`,
    `  cluster  ${cluster.name}, Kubernetes ${cluster.kubernetesVersion}, API at ${cluster.controlPlaneEndpoint}`,
    `  nodes    ${plural(cps.length, 'control plane', 'control planes')} (${cps.join(', ')}), ${plural(workers.length, 'worker', 'workers')}${workers.length > 0 ? ` (${workers.join(', ')})` : ''}`,
    `  proxmox  ${proxmox ? `yes: ${proxmox.endpoint}, node ${proxmox.node}${secretNote}` : 'no (VMs are not managed by kp)'}`,
    ...notes.map((w) => `  warning  ${w}`),
  ]
  return {
    lines,
    result: {
      cluster: {controlPlaneEndpoint: cluster.controlPlaneEndpoint, kubernetesVersion: cluster.kubernetesVersion, name: cluster.name},
      hash: loaded.hash,
      nodes: nodes.map(({ip, name, role, vmid}) => ({ip, name, role, vmid})),
      path: loaded.path,
      proxmox: proxmox !== undefined,
      secretsChecked: loaded.secrets !== undefined,
      valid: true,
      warnings: notes,
    },
  }
}

export function warnings(config: KpConfig): string[] {
  const out: string[] = []
  if (config.proxmox?.insecureSkipTlsVerify) out.push('proxmox.insecureSkipTlsVerify: the Proxmox API certificate is not verified; pin it with proxmox.fingerprint')
  const cps = controlPlanes(config)
  const host = config.cluster.controlPlaneEndpoint.replace(/:\d+$/, '')
  const pinned = cps.find((n) => n.ip === host || n.name === host)
  if (cps.length > 1 && pinned) {
    out.push(`cluster.controlPlaneEndpoint: with ${cps.length} control planes it should be a load balancer or VIP, not ${pinned.name}'s address: when ${pinned.name} is down the API is unreachable`)
  }

  return out
}
