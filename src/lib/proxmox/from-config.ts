/** The Proxmox connection a kp.yaml describes (loaded with its secrets). */
import type {LoadedConfig} from '../config/load.js'
import {UsageError} from '../errors.js'
import {warn} from '../warnings.js'
import type {Pve} from './types.js'

/** Warnings (TLS verification off) go to the process's warning channel unless `warn` is given. */
export async function pveFromConfig(loaded: LoadedConfig, options: {log?: (line: string) => void; signal?: AbortSignal; warn?: (line: string) => void} = {}): Promise<Pve & {close(): Promise<void>}> {
  const proxmox = loaded.config.proxmox
  if (!proxmox) throw new UsageError(`${loaded.path} has no proxmox section, so kp cannot manage the VMs`, {hint: 'add proxmox: (see docs/configuration.md), or create the VMs yourself'})
  const secret = loaded.secrets?.proxmoxTokenSecret
  if (!secret) throw new Error('the Proxmox token secret was not resolved (load the config with resolveSecrets)')
  const {connectProxmox} = await import('./client.js')
  return connectProxmox({
    caFile: proxmox.caFile,
    endpoint: proxmox.endpoint,
    fingerprint: proxmox.fingerprint,
    insecureSkipTlsVerify: proxmox.insecureSkipTlsVerify,
    log: options.log,
    signal: options.signal,
    tokenId: proxmox.tokenId,
    tokenSecret: secret,
    warn: options.warn ?? warn,
  })
}
