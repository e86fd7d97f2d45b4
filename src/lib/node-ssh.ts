/**
 * `kp ssh NODE [-- COMMAND…]`: the use case behind the command. It sits between the command and
 * the SSH adapter, not inside either: oclif loads every file of src/commands/ as a command, and the
 * adapter must not know about kp.yaml's nodes or the terminal. The command supplies the prompts.
 */
import {loadConfig} from './config/load.js'
import {findNode} from './config/nodes.js'
import {UsageError} from './errors.js'
import {type PoolPrompts, poolOptionsFromConfig, targetOf} from './ssh/from-config.js'
import {createSshPool} from './ssh/index.js'
import type {SshPool} from './ssh/types.js'

export interface SshCliInput {
  acceptNewHostKeys: boolean
  /** The words after `--`. One word is a command line for the remote shell; several are argv. */
  command: string[]
  configPath: string
  /** A terminal is attached: without a command, open a shell. */
  interactive: boolean
  node: string
  onClose(fn: () => Promise<void>): void
  /** How to ask the operator (unknown host key, passphrase); none without a terminal. */
  prompts?: PoolPrompts
  /** Stream the output to this terminal (not with --json, whose result carries it). */
  stream: boolean
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
      ...(input.prompts ? {prompts: input.prompts} : {}),
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
