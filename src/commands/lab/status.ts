import {BaseCommand} from '../../lib/base-command.js'
import type {LabStatusResult} from '../../lib/lab/cli/inspect.js'
import {table} from '../../lib/table.js'

export default class LabStatus extends BaseCommand<typeof LabStatus> {
  static description = "Show the lab's components (supervisor, bridge, Proxmox API, packages, apt proxy), its VMs, the etcd members of its kubeadm clusters (health, leader) and the faults in force."
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json']

  async run(): Promise<LabStatusResult> {
    const {labStatus} = await import('../../lib/lab/cli/inspect.js')
    const status = await labStatus(this.stateDir)
    if (status.state !== 'ready') {
      const why = status.state === 'failed' && status.supervisor?.message ? `: ${status.supervisor.message}` : ''
      this.log(`The lab in ${status.dir} is ${status.state}${why}.${status.state === 'down' ? ' Start it with "kp lab up".' : ''}`)
      return status
    }

    this.log(table([['COMPONENT', 'OK', 'DETAIL'], ...status.components.map((c) => [c.name, c.ok ? 'yes' : 'NO', c.detail])]))
    this.log('')
    const rows = status.vms.map((vm) => {
      const faults = Object.entries(vm.faults).map(([k, v]) => `${k}=${String(v)}`)
      const state = vm.template ? 'template' : vm.running ? (vm.booted ? 'running' : 'booting') : 'stopped'
      return [String(vm.vmid), vm.name, state, vm.ip ?? '-', vm.lock ?? '-', faults.join(' ') || '-']
    })
    this.log(table([['VMID', 'NAME', 'STATE', 'IP', 'LOCK', 'FAULTS'], ...rows]))
    for (const cluster of status.etcd?.clusters ?? []) {
      this.log(`\netcd of cluster ${cluster.name}: ${cluster.leader ? `leader ${cluster.leader}` : 'NO LEADER'}`)
      const members = cluster.members.map((m) => [m.name, m.healthy ? 'yes' : 'NO', m.leader ? 'yes' : '-', m.peerURL, m.clientURL, m.error ?? '-'])
      this.log(table([['MEMBER', 'HEALTHY', 'LEADER', 'PEER URL', 'CLIENT URL', 'ERROR'], ...members]))
    }

    if (status.etcd && status.etcd.down.length > 0) this.log(`\netcd kept down (fault): ${status.etcd.down.join(', ')}`)
    const api = Object.entries(status.faults ?? {}).filter(([k]) => k !== 'cloneLock' && k !== 'seed')
    if (api.length > 0) this.log(`\nProxmox API faults: ${api.map(([k, v]) => `${k} ${JSON.stringify(v)}`).join('; ')}`)
    return status
  }
}
