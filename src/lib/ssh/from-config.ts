/** The SSH pool and targets kp.yaml describes, for commands and workflows. */
import type {KpConfig, NodeConfig} from '../config/schema.js'
import {confirm} from '../engine/confirm.js'
import {knownHostsPath} from '../known-hosts.js'
import type {SshPoolOptions, SshTarget} from './types.js'

export interface PoolFromConfigOptions {
  /** --accept-new-host-keys */
  acceptNewHostKeys?: boolean
  interactive: boolean
  log?: SshPoolOptions['log']
  signal?: AbortSignal
  stateDir: string
}

export function targetOf(config: KpConfig, node: NodeConfig): SshTarget {
  return {host: node.ip, name: node.name, port: config.ssh.port, user: config.ssh.user}
}

export function poolOptionsFromConfig(config: KpConfig, options: PoolFromConfigOptions): SshPoolOptions {
  const {ssh} = config
  const ask = (message: string) => confirm(message, {interactive: true, yes: false})
  return {
    agent: ssh.agent,
    knownHostsFile: knownHostsPath(ssh.knownHostsFile, options.stateDir),
    newHostKeys: options.acceptNewHostKeys ? 'accept' : options.interactive ? 'ask' : 'refuse',
    ...(ssh.identityFile ? {identityFile: ssh.identityFile} : {}),
    ...(ssh.jumpHost ? {jumpHost: {host: ssh.jumpHost.host, port: ssh.jumpHost.port, user: ssh.jumpHost.user ?? ssh.user}} : {}),
    ...(options.interactive
      ? {
          confirm: ask,
          async passphrase() {
            const {password} = await import('@inquirer/prompts')
            return password({mask: true, message: `Passphrase for ${ssh.identityFile}:`})
          },
        }
      : {}),
    ...(options.log ? {log: options.log} : {}),
    ...(options.signal ? {signal: options.signal} : {}),
  }
}
