/**
 * What a node's VM should look like in Proxmox, from kp.yaml, and how it differs from what is there.
 * Pure: `kp vm seed --dry-run`, the configure step and `kp vm list` all use it.
 */
import type {KpConfig, NodeConfig} from '../config/schema.js'
import {encodeSshKeys, type PveConfigParams, type PveVmConfig} from '../proxmox/types.js'

/** The tag that marks a VM as kp's for one cluster: kp never touches a VMID without it. */
export function ownerTag(cluster: string): string {
  return `kp-${cluster}`
}

/**
 * Written into the description at clone time (the clone call takes no tags), so a VM whose clone
 * finished just before kp was killed — tags not set yet — is still recognised as kp's on resume.
 */
export function ownerMarker(cluster: string): string {
  return `[kp-managed cluster=${cluster}]`
}

/** kp's VM for this cluster: tagged, or (cloned, not yet configured) marked in its description. */
export function isOwnedBy(tags: string | undefined, cluster: string, description?: string | number): boolean {
  return splitTags(tags).includes(ownerTag(cluster)) || String(description ?? '').includes(ownerMarker(cluster))
}

export function vmDescription(cluster: string, node: {name: string; role: string}): string {
  return `Managed by kp: ${node.role} ${node.name} of cluster ${cluster}. kp vm seed overwrites changes made here. ${ownerMarker(cluster)}`
}

function splitTags(tags: string | undefined): string[] {
  return (tags ?? '').split(/[;, ]+/).filter(Boolean)
}

export interface Desired {
  /** Config keys as kp sets them. */
  config: PveConfigParams
  diskGiB: number
}

export function desiredVm(config: KpConfig, node: NodeConfig, sshKeys: readonly string[]): Desired {
  const {cluster, network, ssh} = config
  return {
    config: {
      agent: 'enabled=1',
      ciuser: ssh.user,
      cores: node.cores,
      description: vmDescription(cluster.name, node),
      ipconfig0: `ip=${node.ip}/${network.prefix},gw=${network.gateway}`,
      memory: node.memoryMiB,
      name: node.name,
      nameserver: network.dns.join(' '),
      net0: `virtio,bridge=${network.bridge}${network.vlan === undefined ? '' : `,tag=${network.vlan}`}`,
      ...(network.searchDomain ? {searchdomain: network.searchDomain} : {}),
      sshkeys: encodeSshKeys(sshKeys),
      tags: ['kp', ownerTag(cluster.name), node.role].sort().join(';'),
    },
    diskGiB: node.diskGiB,
  }
}

/** A property string (`virtio=BC:…,bridge=vmbr0,tag=20`) as key → value; the model key holds the MAC. */
function props(value: string | number | undefined, defaultKey?: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const part of String(value ?? '').split(',').filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq < 0) out.set(defaultKey ?? part, defaultKey ? part : '')
    else out.set(part.slice(0, eq), part.slice(eq + 1))
  }

  return out
}

const NET_MODELS = ['virtio', 'e1000', 'e1000e', 'rtl8139', 'vmxnet3']

function netEqual(want: string, have: string | number | undefined): boolean {
  const w = props(want)
  const h = props(have)
  const model = (m: Map<string, string>) => NET_MODELS.find((x) => m.has(x))
  return model(w) === model(h) && w.get('bridge') === h.get('bridge') && w.get('tag') === h.get('tag')
}

/** One config key that is not as kp.yaml wants it. */
export interface Drift {
  from: string
  key: string
  to: string
}

function display(key: string, value: string | number | undefined): string {
  if (value === undefined || value === '') return '(unset)'
  if (key === 'sshkeys') return `${decodeURIComponent(String(value)).trim().split('\n').length} key(s)`
  if (key === 'description') return `"${String(value).trim().slice(0, 40)}…"`
  return String(value)
}

export function configDrift(want: PveConfigParams, have: PveVmConfig): Drift[] {
  const drift: Drift[] = []
  for (const [key, value] of Object.entries(want)) {
    const current = have[key]
    let same: boolean
    if (key === 'net0') same = netEqual(String(value), current)
    else if (key === 'agent') same = props(current, 'enabled').get('enabled') === '1'
    else if (key === 'sshkeys') same = current !== undefined && decodeURIComponent(String(current)).trim() === decodeURIComponent(String(value)).trim()
    else if (key === 'tags') same = splitTags(String(current ?? '')).sort().join(';') === String(value)
    else if (key === 'description') same = String(current ?? '').trim() === String(value).trim()
    else same = String(current ?? '') === String(value)
    if (!same) drift.push({from: display(key, current), key, to: display(key, value)})
  }

  return drift
}

/** The params that fix a drift; net0 keeps the VM's MAC address. */
export function fixParams(want: PveConfigParams, have: PveVmConfig, drift: readonly Drift[]): PveConfigParams {
  const out: PveConfigParams = {}
  for (const {key} of drift) {
    let value = want[key]!
    if (key === 'net0') {
      const mac = NET_MODELS.map((m) => props(have.net0).get(m)).find((v) => v && /^[0-9A-F:]{17}$/i.test(v))
      if (mac) value = String(value).replace(/^(\w+)/, `$1=${mac}`)
    }

    out[key] = value
  }

  return out
}

/** Changes a running VM only takes at its next boot (cloud-init data, CPU and memory). */
export const NEEDS_REBOOT = new Set(['cores', 'memory', 'ipconfig0', 'ciuser', 'sshkeys', 'nameserver', 'searchdomain'])

/** The boot disk: the first of scsi0, virtio0, sata0, ide0 that is not a CD-ROM or cloud-init drive. */
export function bootDisk(config: PveVmConfig): {key: string; sizeGiB: number} | undefined {
  for (const key of ['scsi0', 'virtio0', 'sata0', 'ide0']) {
    const value = config[key]
    if (value === undefined || /media=cdrom|cloudinit/.test(String(value))) continue
    const size = props(value, 'file').get('size')
    return {key, sizeGiB: size ? sizeToGiB(size) : 0}
  }

  return undefined
}

function sizeToGiB(size: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/i.exec(size)
  if (!m) return 0
  const factor: Record<string, number> = {'': 1 / 1024 ** 3, G: 1, K: 1 / 1024 ** 2, M: 1 / 1024, T: 1024}
  return Number(m[1]) * factor[m[2]!.toUpperCase()]!
}
