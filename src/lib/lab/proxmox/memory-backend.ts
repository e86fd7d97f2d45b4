/**
 * A VmBackend that keeps VMs in memory and records every call: for the simulated API's own tests and
 * for any test that needs Proxmox without the lab's host runtime. The guest agent answers for a
 * running VM unless told not to; it reports the address cloud-init configured and serves a few files
 * (hostname, machine id, SSH host key).
 */
import {createHash, randomUUID} from 'node:crypto'

import type {GuestInterface, VmBackend, VmSpec} from '../backend.js'

export interface MemoryVm {
  bootId: string
  clonedFrom?: number
  diskBytes?: number
  files: Map<string, string>
  full?: boolean
  running: boolean
  snapshots: string[]
  spec?: VmSpec
  vmid: number
}

export interface BackendCall {
  args: unknown[]
  method: keyof VmBackend
}

export class MemoryBackend implements VmBackend {
  readonly calls: BackendCall[] = []
  readonly vms = new Map<number, MemoryVm>()
  private readonly agentSilent = new Set<number>()
  private readonly failures = new Map<keyof VmBackend, string[]>()

  /** Calls to one method, in order. */
  callsTo(method: keyof VmBackend): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args)
  }

  /** Make the guest agent of a VM stop (false) or resume (true) answering. */
  setAgentAnswering(vmid: number, answering: boolean): void {
    if (answering) this.agentSilent.delete(vmid)
    else this.agentSilent.add(vmid)
  }

  /** The next call to `method` throws `message`. */
  failNext(method: keyof VmBackend, message: string): void {
    const queue = this.failures.get(method) ?? []
    queue.push(message)
    this.failures.set(method, queue)
  }

  writeFile(vmid: number, file: string, content: string): void {
    this.vm(vmid).files.set(file, content)
  }

  private record(method: keyof VmBackend, ...args: unknown[]): void {
    this.calls.push({args: structuredClone(args), method})
    const message = this.failures.get(method)?.shift()
    if (message !== undefined) throw new Error(message)
  }

  private vm(vmid: number): MemoryVm {
    let vm = this.vms.get(vmid)
    if (!vm) {
      vm = {bootId: randomUUID(), files: new Map(), running: false, snapshots: [], vmid}
      this.vms.set(vmid, vm)
    }
    return vm
  }

  clone(templateVmid: number, vmid: number, full: boolean): Promise<void> {
    this.record('clone', templateVmid, vmid, full)
    const template = this.vms.get(templateVmid)
    this.vms.set(vmid, {bootId: randomUUID(), clonedFrom: templateVmid, diskBytes: template?.diskBytes, files: new Map(), full, running: false, snapshots: [], vmid})
    return Promise.resolve()
  }

  destroy(vmid: number): Promise<void> {
    this.record('destroy', vmid)
    this.vms.delete(vmid)
    return Promise.resolve()
  }

  agentFileRead(vmid: number, file: string): Promise<string | undefined> {
    this.record('agentFileRead', vmid, file)
    const vm = this.vms.get(vmid)
    if (!vm?.running || this.agentSilent.has(vmid)) return Promise.resolve(undefined)
    const content = vm.files.get(file)
    if (content === undefined) return Promise.reject(new Error(`Failed to open file '${file}': No such file or directory`))
    return Promise.resolve(content)
  }

  agentInterfaces(vmid: number): Promise<GuestInterface[] | undefined> {
    this.record('agentInterfaces', vmid)
    const vm = this.vms.get(vmid)
    if (!vm?.running || this.agentSilent.has(vmid)) return Promise.resolve(undefined)
    const mac = (/=([0-9A-Fa-f:]{17})/.exec(vm.spec?.config.net0 ?? '')?.[1] ?? '02:00:00:00:00:01').toLowerCase()
    const eth0: GuestInterface = {'hardware-address': mac, 'ip-addresses': [], name: 'eth0'}
    const ip = vm.spec?.cloudInit.ip
    if (ip) {
      const [address = '', prefix = '24'] = ip.split('/')
      eth0['ip-addresses'].push({'ip-address': address, 'ip-address-type': 'ipv4', prefix: Number(prefix)})
    }
    const suffix = mac.split(':').slice(3).join('')
    eth0['ip-addresses'].push({'ip-address': `fe80::be24:11ff:fe${suffix.slice(0, 2)}:${suffix.slice(2)}`, 'ip-address-type': 'ipv6', prefix: 64})
    return Promise.resolve([
      {
        'hardware-address': '00:00:00:00:00:00',
        'ip-addresses': [
          {'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8},
          {'ip-address': '::1', 'ip-address-type': 'ipv6', prefix: 128},
        ],
        name: 'lo',
      },
      eth0,
    ])
  }

  agentPing(vmid: number): Promise<boolean> {
    this.record('agentPing', vmid)
    return Promise.resolve(Boolean(this.vms.get(vmid)?.running) && !this.agentSilent.has(vmid))
  }

  resize(vmid: number, sizeBytes: number): Promise<void> {
    this.record('resize', vmid, sizeBytes)
    this.vm(vmid).diskBytes = sizeBytes
    return Promise.resolve()
  }

  reboot(vmid: number): Promise<void> {
    this.record('reboot', vmid)
    const vm = this.vm(vmid)
    vm.bootId = randomUUID()
    vm.running = true
    return Promise.resolve()
  }

  running(vmid: number): Promise<boolean> {
    return Promise.resolve(this.vms.get(vmid)?.running ?? false)
  }

  shutdown(vmid: number): Promise<void> {
    this.record('shutdown', vmid)
    this.vm(vmid).running = false
    return Promise.resolve()
  }

  snapshot(vmid: number, name: string): Promise<void> {
    this.record('snapshot', vmid, name)
    this.vm(vmid).snapshots.push(name)
    return Promise.resolve()
  }

  snapshotDelete(vmid: number, name: string): Promise<void> {
    this.record('snapshotDelete', vmid, name)
    const vm = this.vm(vmid)
    vm.snapshots = vm.snapshots.filter((s) => s !== name)
    return Promise.resolve()
  }

  snapshotRollback(vmid: number, name: string): Promise<void> {
    this.record('snapshotRollback', vmid, name)
    const vm = this.vm(vmid)
    if (!vm.snapshots.includes(name)) return Promise.reject(new Error(`no snapshot '${name}' of the disk of VM ${vmid}`))
    vm.running = false
    return Promise.resolve()
  }

  start(spec: VmSpec): Promise<void> {
    this.record('start', spec)
    const vm = this.vm(spec.vmid)
    vm.spec = spec
    vm.running = true
    vm.bootId = randomUUID()
    const key = createHash('sha256').update(`host-key-${spec.vmid}`).digest('base64').slice(0, 43)
    if (!vm.files.has('/etc/ssh/ssh_host_ed25519_key.pub')) {
      vm.files.set('/etc/ssh/ssh_host_ed25519_key.pub', `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${key} root@${spec.cloudInit.hostname}\n`)
    }
    vm.files.set('/etc/hostname', `${spec.cloudInit.hostname}\n`)
    if (!vm.files.has('/etc/machine-id')) vm.files.set('/etc/machine-id', `${randomUUID().replaceAll('-', '')}\n`)
    return Promise.resolve()
  }

  stop(vmid: number): Promise<void> {
    this.record('stop', vmid)
    this.vm(vmid).running = false
    return Promise.resolve()
  }
}
