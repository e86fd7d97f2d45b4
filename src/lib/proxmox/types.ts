/**
 * What kp needs from a Proxmox VE host: the contract between the workflows (vm-seed, vm list,
 * snapshots) and the adapter over proxmox-api (client.ts). Every call that starts a task waits for
 * it and throws ProxmoxTaskError when it ends with an exit status other than OK.
 */

/** A VM as `GET /cluster/resources?type=vm` lists it. */
export interface PveVmSummary {
  lock?: string
  name?: string
  node: string
  /** 'running' | 'stopped' | … */
  status: string
  /** `;`-separated, as Proxmox stores them. */
  tags?: string
  template: boolean
  vmid: number
}

/** `GET /nodes/{node}/qemu/{vmid}/config`: values as the API returns them (numbers for integers). */
export type PveVmConfig = Record<string, number | string | undefined> & {digest?: string}

/** Parameters of `POST /nodes/{node}/qemu/{vmid}/config`, in wire form (sshkeys already encoded). */
export type PveConfigParams = Record<string, number | string>

export interface PveTaskResult {
  exitstatus: string
  upid: string
}

export interface PveCloneOptions {
  description?: string
  /** Full clone (the default for kp) or linked. */
  full: boolean
  name: string
  newid: number
  pool?: string
  /** Target storage for a full clone. */
  storage?: string
  /** Target Proxmox node when it differs from the template's. */
  target?: string
}

export interface PveGuestInterface {
  'hardware-address'?: string
  'ip-addresses'?: Array<{'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number}>
  name: string
}

export interface PveSnapshot {
  description?: string
  name: string
  parent?: string
  snaptime?: number
  vmstate?: number
}

export interface PveTaskSummary {
  status?: string
  type: string
  upid: string
}

export interface Pve {
  /** `GET /version`: checks reachability, TLS and the token in one call. */
  version(): Promise<{release: string; version: string}>
  /** `GET /cluster/resources?type=vm`. */
  vms(): Promise<PveVmSummary[]>
  vmConfig(node: string, vmid: number): Promise<PveVmConfig>
  /** `POST …/config` and wait for its task. `digest` refuses the change if the config moved meanwhile. */
  setConfig(node: string, vmid: number, params: PveConfigParams, options?: {digest?: string}): Promise<void>
  /** Clones and waits. Never retried blindly: after an unclear failure it looks for the VM and its task. */
  clone(node: string, templateVmid: number, options: PveCloneOptions): Promise<PveTaskResult>
  /** `PUT …/resize` to an absolute size such as `32G`, and wait. */
  resize(node: string, vmid: number, disk: string, size: string): Promise<void>
  start(node: string, vmid: number): Promise<void>
  /** Graceful shutdown with a timeout in seconds, then stop (`forceStop`). */
  shutdown(node: string, vmid: number, timeoutSeconds: number): Promise<void>
  stop(node: string, vmid: number): Promise<void>
  reboot(node: string, vmid: number): Promise<void>
  /**
   * `GET …/pending`: the keys whose new value waits for the next boot of a running VM (GET config
   * shows pending values as if applied, so only this tells a reboot is due).
   */
  pending(node: string, vmid: number): Promise<string[]>
  /** `GET …/status/current`. */
  status(node: string, vmid: number): Promise<{lock?: string; qmpstatus?: string; status: string}>
  /** false while the guest agent does not answer (VM starting, agent not running). */
  agentPing(node: string, vmid: number): Promise<boolean>
  agentInterfaces(node: string, vmid: number): Promise<PveGuestInterface[]>
  /** The content of a small file inside the guest (e.g. its SSH host public key). */
  agentFileRead(node: string, vmid: number, file: string): Promise<string>
  snapshots(node: string, vmid: number): Promise<PveSnapshot[]>
  snapshot(node: string, vmid: number, name: string, description?: string): Promise<void>
  rollback(node: string, vmid: number, name: string): Promise<void>
  deleteSnapshot(node: string, vmid: number, name: string): Promise<void>
  /** `DELETE /nodes/{node}/qemu/{vmid}` with purge, and wait. */
  destroy(node: string, vmid: number): Promise<void>
  /** Running tasks on a node, optionally of one VM: how a resumed clone finds the one still going. */
  runningTasks(node: string, vmid?: number): Promise<PveTaskSummary[]>
  /** Waits for a task started elsewhere (a clone found running on resume). */
  waitTask(node: string, upid: string): Promise<PveTaskResult>
}

/** Proxmox's URL-encoding of `sshkeys`: encodeURIComponent, with the characters it leaves alone encoded too. */
export function encodeSshKeys(keys: readonly string[]): string {
  return encodeURIComponent(`${keys.join('\n')}\n`).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}
