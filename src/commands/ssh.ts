import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../lib/base-command.js'
import {onInterrupt} from '../lib/engine/signals.js'
import type {SshCliResult} from '../lib/node-ssh.js'
import type {PoolPrompts} from '../lib/ssh/from-config.js'

export default class Ssh extends BaseCommand<typeof Ssh> {
  static args = {
    node: Args.string({description: 'Node name from kp.yaml.', required: true}),
  }

  static description = `Run a command on a node over SSH, or open a shell on it.
Uses the ssh section of kp.yaml and kp's known_hosts: unknown host keys are refused without a terminal. After --, one word is a command line for the remote shell ('journalctl -u kubelet | tail'); several words are a command and its arguments, each quoted. kp exits with the remote command's exit code.`

  static examples = [
    '<%= config.bin %> <%= command.id %> cp1',
    '<%= config.bin %> <%= command.id %> w1 -- uptime',
    "<%= config.bin %> <%= command.id %> w1 -- 'journalctl -u kubelet --no-pager | tail -n 50'",
  ]

  static flags = {
    'accept-new-host-keys': Flags.boolean({description: 'Pin a host key kp has not seen before instead of refusing (check its fingerprint first).'}),
  }

  static strict = false
  static usage = '<%= command.id %> NODE [--accept-new-host-keys] [-- COMMAND…]'

  async run(): Promise<SshCliResult> {
    const {args, argv} = await this.parse(Ssh)
    const {sshToNode} = await import('../lib/node-ssh.js')
    // The words after "--" as typed: oclif's non-strict parsing reorders a "-c" found among them.
    const dash = this.argv.indexOf('--')
    const command = dash === -1 ? (argv as string[]).slice(1) : this.argv.slice(dash + 1)
    const controller = new AbortController()
    const stop = onInterrupt({first: () => controller.abort(), second: () => process.exit(130)})
    this.onClose(async () => stop())
    const result = await sshToNode({
      acceptNewHostKeys: this.flags['accept-new-host-keys'],
      command,
      configPath: this.configPath,
      interactive: this.interactive,
      node: args.node,
      onClose: (fn) => this.onClose(fn),
      ...(this.interactive ? {prompts: terminalPrompts} : {}),
      signal: controller.signal,
      stateDir: this.stateDir,
      stream: !this.jsonEnabled(),
      verbose: this.flags.verbose,
    })
    process.exitCode = result.code
    return result
  }
}

/** The questions the SSH connection may need answered, asked on the terminal (never by the adapter). */
const terminalPrompts: PoolPrompts = {
  async confirm(message) {
    const {confirm} = await import('@inquirer/prompts')
    return confirm({default: false, message})
  },
  async secret(message) {
    const {password} = await import('@inquirer/prompts')
    return password({mask: true, message})
  },
}
