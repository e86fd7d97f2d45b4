/** The SSH pool and targets kp.yaml describes, for commands and workflows. */
import type {KpConfig, NodeConfig} from '../config/schema.js'
import {knownHostsPath} from '../known-hosts.js'
import type {SshPoolOptions, SshTarget} from './types.js'

/**
 * How to ask the operator, supplied by the command layer when there is a terminal. An adapter
 * never prompts by itself: a workflow's task list owns the terminal, and cron has none.
 */
export interface PoolPrompts {
  /** A yes/no question (trust an unknown host key?). */
  confirm(question: string): Promise<boolean>
  /** A secret answer, not echoed (the identity file's passphrase). */
  secret(question: string): Promise<string>
}

export interface PoolFromConfigOptions {
  /** --accept-new-host-keys */
  acceptNewHostKeys?: boolean
  log?: SshPoolOptions['log']
  /** Without prompts nothing is asked: an unknown host key is refused, an encrypted key fails clearly. */
  prompts?: PoolPrompts
  signal?: AbortSignal
  stateDir: string
}

export function targetOf(config: KpConfig, node: NodeConfig): SshTarget {
  return {host: node.ip, name: node.name, port: config.ssh.port, user: config.ssh.user}
}

export function poolOptionsFromConfig(config: KpConfig, options: PoolFromConfigOptions): SshPoolOptions {
  const {ssh} = config
  const {prompts} = options
  return {
    agent: ssh.agent,
    knownHostsFile: knownHostsPath(ssh.knownHostsFile, options.stateDir),
    newHostKeys: options.acceptNewHostKeys ? 'accept' : prompts ? 'ask' : 'refuse',
    ...(ssh.identityFile ? {identityFile: ssh.identityFile} : {}),
    ...(ssh.jumpHost ? {jumpHost: {host: ssh.jumpHost.host, port: ssh.jumpHost.port, user: ssh.jumpHost.user ?? ssh.user}} : {}),
    ...(prompts ? {confirm: (question: string) => prompts.confirm(question), passphrase: () => prompts.secret(`Passphrase for ${ssh.identityFile}:`)} : {}),
    ...(options.log ? {log: options.log} : {}),
    ...(options.signal ? {signal: options.signal} : {}),
  }
}
