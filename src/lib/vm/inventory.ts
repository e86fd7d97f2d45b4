/**
 * The nodes of kp.yaml beside the VMs Proxmox has: what `kp vm list` shows. Read-only; the same
 * drift rules as `kp vm seed`, so the two never disagree.
 */
import {existsSync, readFileSync} from 'node:fs'

import type {LoadedConfig} from '../config/load.js'
import type {Pve} from '../proxmox/types.js'
import {bootDisk, configDrift, desiredVm, isOwnedBy} from './desired.js'

export interface InventoryRow {
  /** What differs from kp.yaml (`cores 2 → 4`), pending changes included. */
  drift: string[]
  ip?: string
  /** kp-managed for this cluster, foreign (VMID taken by another VM), missing, or extra (tagged for this cluster, not in kp.yaml). */
  managed: 'kp' | 'foreign' | 'missing' | 'extra'
  name: string
  node?: string
  pending: string[]
  role?: string
  state: string
  vmid: number
}

export async function inventory(loaded: LoadedConfig, pve: Pve): Promise<InventoryRow[]> {
  const {config} = loaded
  const cluster = config.cluster.name
  const identity = config.ssh.identityFile
  const sshKeys = identity && existsSync(`${identity}.pub`) ? readFileSync(`${identity}.pub`, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean) : []
  const vms = await pve.vms()
  const rows: InventoryRow[] = []
  for (const node of config.nodes) {
    const vm = vms.find((v) => v.vmid === node.vmid)
    if (!vm) {
      rows.push({drift: ['not created'], ip: node.ip, managed: 'missing', name: node.name, pending: [], role: node.role, state: '-', vmid: node.vmid})
      continue
    }

    if (!isOwnedBy(vm.tags, cluster, isOwnedBy(vm.tags, cluster) ? undefined : (await pve.vmConfig(vm.node, vm.vmid)).description)) {
      rows.push({drift: [`VMID used by "${vm.name ?? '?'}"`], managed: 'foreign', name: node.name, node: vm.node, pending: [], role: node.role, state: vm.status, vmid: node.vmid})
      continue
    }

    const have = await pve.vmConfig(vm.node, vm.vmid)
    const want = desiredVm(config, node, sshKeys)
    const drift = configDrift(want.config, have)
      .filter((d) => sshKeys.length > 0 || d.key !== 'sshkeys')
      .map((d) => `${d.key} ${d.from} → ${d.to}`)
    const disk = bootDisk(have)
    if (disk && disk.sizeGiB < want.diskGiB) drift.push(`disk ${disk.sizeGiB} GiB → ${want.diskGiB} GiB`)
    const pending = vm.status === 'running' ? await pve.pending(vm.node, vm.vmid) : []
    rows.push({drift, ip: node.ip, managed: 'kp', name: node.name, node: vm.node, pending, role: node.role, state: vm.status, vmid: vm.vmid})
  }

  for (const vm of vms) {
    if (!vm.template && isOwnedBy(vm.tags, cluster) && !config.nodes.some((n) => n.vmid === vm.vmid)) {
      rows.push({drift: ['not in kp.yaml'], managed: 'extra', name: vm.name ?? `VM${vm.vmid}`, node: vm.node, pending: [], state: vm.status, vmid: vm.vmid})
    }
  }

  return rows
}
