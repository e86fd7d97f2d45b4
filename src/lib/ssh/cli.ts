/** `kp ssh NODE [-- COMMAND…]`: the logic behind the command, kept out of src/commands/. */
import {loadConfig} from '../config/load.js'
import {findNode} from '../config/nodes.js'
import {UsageError} from '../errors.js'
import {targetOf, poolOptionsFromConfig} from './from-config.js'
import {createSshPool} from './index.js'
import type {SshPool} from './types.js'

export interface SshCliInput {
  acceptNewHostKeys: boolean
  /** The words after `--`. One word is a command line for the remote shell; several are argv. */
  command: string[]
  configPath: string
  interactive: boolean
  /** Stream the output to this terminal (not with --json, whose result carries it). */
  stream: boolean
  node: string
  onClose(fn: () => Promise<void>): void
  signal: AbortSignal
  stateDir: string
  verbose: boolean
}

export interface SshCliResult {
  code: number
  node: string
  stderr?: string
  stdout?: string
}

export async function sshToNode(input: SshCliInput): Promise<SshCliResult> {
  if (input.command.length === 0 && !input.interactive) {
    throw new UsageError(`kp ssh ${input.node} without a command opens an interactive shell, and there is no terminal here.`, {hint: `Give the command after --: kp ssh ${input.node} -- uptime`})
  }

  const {config} = await loadConfig(input.configPath)
  const node = findNode(config, input.node)
  const pool: SshPool = createSshPool(
    poolOptionsFromConfig(config, {
      acceptNewHostKeys: input.acceptNewHostKeys,
      interactive: input.interactive,
      ...(input.verbose ? {log: (scope: string, line: string) => void process.stderr.write(`${scope}: ${line}\n`)} : {}),
      signal: input.signal,
      stateDir: input.stateDir,
    }),
  )
  input.onClose(() => pool.closeAll())
  const session = await pool.session(targetOf(config, node))
  if (input.command.length === 0) return {code: await session.shell!({stderr: process.stderr, stdin: process.stdin, stdout: process.stdout}), node: node.name}

  const command = input.command.length === 1 ? input.command[0]! : input.command
  const result = await session.exec(command, {
    allowFailure: true,
    ...(input.stream ? {onStderr: (s: string) => void process.stderr.write(s), onStdout: (s: string) => void process.stdout.write(s)} : {}),
    // Interactive use: a command may run as long as the operator wants (Ctrl-C stops it).
    timeoutMs: 24 * 3600_000,
  })
  return input.stream ? {code: result.code, node: node.name} : {code: result.code, node: node.name, stderr: result.stderr, stdout: result.stdout}
}
