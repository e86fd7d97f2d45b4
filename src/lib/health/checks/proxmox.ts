import {resolveSecret, SecretError} from '../../config/secrets.js'
import {ProxmoxError} from '../../proxmox/errors.js'
import {pveFromConfig} from '../../proxmox/from-config.js'
import {type Finding, fromFindings} from '../status.js'
import type {Check} from '../types.js'

export const proxmoxCheck: Check = {
  applies: (loaded) => loaded.config.proxmox !== undefined,
  description: 'Only with a proxmox section: the Proxmox API answers and the VM of every node in kp.yaml exists and runs.',
  name: 'proxmox',
  // A Proxmox API that does not answer within the deadline is down, not unknown.
  onDeadline: 'CRITICAL',
  async run({loaded, onClose, signal, warn}) {
    const proxmox = loaded.config.proxmox!
    let secret: string
    try {
      // Resolved here rather than with the config, so a failing secret command blinds this check only.
      secret = await resolveSecret(proxmox.tokenSecret, {dir: loaded.dir, signal})
    } catch (error) {
      if (error instanceof SecretError) return {reason: `proxmox.tokenSecret: ${error.message}`, status: 'UNKNOWN'}
      throw error
    }

    const pve = await pveFromConfig({...loaded, secrets: {proxmoxTokenSecret: secret}}, {signal, warn})
    onClose(() => pve.close())
    let vms
    try {
      vms = await pve.vms()
    } catch (error) {
      if (error instanceof ProxmoxError && error.status === undefined) return {reason: error.message, status: 'CRITICAL'}
      throw error
    }

    const findings: Finding[] = loaded.config.nodes.map((node) => {
      const vm = vms.find((v) => v.vmid === node.vmid)
      if (!vm) return {status: 'CRITICAL', text: `${node.name}: VM ${node.vmid} does not exist`}
      return {status: vm.status === 'running' ? 'OK' : 'CRITICAL', text: `${node.name} (VM ${node.vmid} on ${vm.node}) ${vm.status}`}
    })
    return fromFindings(findings, `${findings.length} VMs running`)
  },
}
