/**
 * The seam between the lab's simulated Proxmox API and whatever runs the VMs. The Proxmox fake owns
 * VM configs, tasks and locks and calls a backend to make things real; the lab's host runtime
 * (network namespaces, overlays, sshd) is one backend, an in-memory one serves the API's own tests.
 */

/** What first boot applies, taken from the VM's Proxmox cloud-init config. */
export interface CloudInit {
  /** `ipconfig0` parsed: address with prefix, e.g. 10.77.0.11/24, and gateway. */
  gateway?: string
  hostname: string
  ip?: string
  nameservers: string[]
  searchdomain?: string
  sshAuthorizedKeys: string[]
  user: string
}

export interface VmSpec {
  cloudInit: CloudInit
  /** Raw Proxmox config keys (cores, memory, net0, tags…) as the API stores them. */
  config: Record<string, string>
  name: string
  vmid: number
}

export interface GuestInterface {
  'hardware-address': string
  'ip-addresses': Array<{'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number}>
  name: string
}

export interface VmBackend {
  /** Create the VM's disk as a copy-on-write clone of the template's (or a full copy). */
  clone(templateVmid: number, vmid: number, full: boolean): Promise<void>
  /** Remove the VM's disk and everything it left on the host. The VM is stopped. */
  destroy(vmid: number): Promise<void>
  /** Guest agent: undefined when the agent does not answer (VM down, booting, or a fault). */
  agentFileRead(vmid: number, file: string): Promise<string | undefined>
  agentInterfaces(vmid: number): Promise<GuestInterface[] | undefined>
  agentPing(vmid: number): Promise<boolean>
  /** Grow the VM's disk (recorded; the lab's overlay has no fixed size). */
  resize(vmid: number, sizeBytes: number): Promise<void>
  /** Graceful reboot from outside (Proxmox `status/reboot`). Resolves once the guest is going down. */
  reboot(vmid: number): Promise<void>
  running(vmid: number): Promise<boolean>
  /**
   * Graceful shutdown; stop is the hard power-off. A guest that ignores it (one hung at boot) is
   * waited for `timeoutMs`, then stopped with `forceStop`, else the shutdown fails — as qmshutdown.
   */
  shutdown(vmid: number, options?: {forceStop?: boolean; timeoutMs?: number}): Promise<void>
  snapshot(vmid: number, name: string): Promise<void>
  snapshotDelete(vmid: number, name: string): Promise<void>
  /** Restore the disk to the snapshot. The VM is stopped. */
  snapshotRollback(vmid: number, name: string): Promise<void>
  start(spec: VmSpec): Promise<void>
  stop(vmid: number): Promise<void>
}
