import {Command, Errors, Flags, Interfaces} from '@oclif/core'
import type {ChalkInstance} from 'chalk'

import type {LaunchContext} from './engine/launch.js'
import {ExitCode, KpError} from './errors.js'
import {resolveConfigPath, resolveStateDir} from './paths.js'
import {redact, redactDeep} from './redact.js'
import {onWarning, warn, warnings} from './warnings.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

/** The JSON envelope every command prints with `--json`; `warnings` when kp warned (also on stderr). */
export type JsonEnvelope<T> = ({command: string; ok: true; result: T} | {command: string; error: JsonError; ok: false}) & {warnings?: string[]}

export interface JsonError {
  exitCode: number
  hint?: string
  kind: string
  message: string
  runbook?: string
  runId?: string
}

/**
 * Owns the flags every command shares, the JSON envelope, the mapping from typed errors to exit
 * codes, the warnings (src/lib/warnings.ts), and closing whatever a command opened (connections,
 * locks) however it ends.
 */
export abstract class BaseCommand<T extends typeof Command> extends Command {
  static baseFlags = {
    config: Flags.string({char: 'c', description: 'Path to kp.yaml [default: $KP_CONFIG, then ./kp.yaml].', helpGroup: 'GLOBAL'}),
    'dry-run': Flags.boolean({description: 'Print the plan and what would change; change nothing.', helpGroup: 'GLOBAL'}),
    'state-dir': Flags.string({description: 'Where journals, logs and locks live [default: $KP_STATE_DIR, then $XDG_STATE_HOME/kp].', helpGroup: 'GLOBAL'}),
    verbose: Flags.boolean({char: 'v', description: 'Timestamped lines instead of the interactive task list; more detail.', helpGroup: 'GLOBAL'}),
    yes: Flags.boolean({char: 'y', description: 'Answer yes to confirmations (required without a TTY).', helpGroup: 'GLOBAL'}),
  }

  static enableJsonFlag = true

  protected flags!: BaseFlags<T>
  private readonly closers: Array<() => Promise<void> | void> = []

  get configPath(): string {
    return resolveConfigPath(this.flags.config)
  }

  get interactive(): boolean {
    return Boolean(process.stdin.isTTY && process.stdout.isTTY) && !this.jsonEnabled()
  }

  get stateDir(): string {
    return resolveStateDir(this.flags['state-dir'])
  }

  /** Everything the engine needs from a command to start or resume a run. */
  launchContext(configPath = this.configPath): LaunchContext {
    const argv = [...(this.id ?? '').split(':'), ...this.argv]
    return {
      argv,
      commandLine: ['kp', ...argv].join(' '),
      configPath,
      dryRun: this.flags['dry-run'],
      interactive: this.interactive,
      json: this.jsonEnabled(),
      log: (text) => this.log(redact(text)),
      stateDir: this.stateDir,
      verbose: this.flags.verbose,
      yes: this.flags.yes,
    }
  }

  /** Run `fn` however the command ends; last registered, first run. */
  onClose(fn: () => Promise<void> | void): void {
    this.closers.push(fn)
  }

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    const json = this.toErrorJson(err)
    process.exitCode = json.error.exitCode
    if (this.jsonEnabled()) {
      this.logJson(json)
      return
    }

    if (err instanceof Errors.ExitError) throw err
    // Loaded here, not at start-up: only a failing command pays for chalk.
    const {stderrColour} = await import('./colour.js')
    process.stderr.write(formatError(json.error, this.isVerbose() ? err.stack : undefined, stderrColour()))
    throw new Errors.ExitError(json.error.exitCode)
  }

  protected override async finally(err: Error | undefined): Promise<void> {
    for (const close of this.closers.reverse()) {
      try {
        await close()
      } catch {
        // Closing is best effort; the command's own result or error is what the user needs.
      }
    }

    await super.finally(err)
  }

  public override async init(): Promise<void> {
    // stderr, not oclif's warn: that one is silent under --json, and a warning must never be.
    this.onClose(onWarning((line) => process.stderr.write(`Warning: ${line}\n`)))
    await super.init()
    const {flags} = await this.parse({
      args: this.ctor.args,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      enableJsonFlag: this.ctor.enableJsonFlag,
      flags: this.ctor.flags,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
  }

  protected override toErrorJson(err: unknown): JsonEnvelope<never> & {ok: false} {
    return {command: (this.id ?? '').replaceAll(':', ' '), error: describeError(err), ok: false, ...warningsField()}
  }

  protected override toSuccessJson(result: unknown): JsonEnvelope<unknown> {
    return {command: (this.id ?? '').replaceAll(':', ' '), ok: true, result: redactDeep(result), ...warningsField()}
  }

  /** oclif's warn, through kp's channel: on stderr and in the envelope, with --json too. */
  public override warn(input: Error | string): Error | string {
    warn(typeof input === 'string' ? input : input.message)
    return input
  }

  private isVerbose(): boolean {
    return Boolean(this.flags?.verbose) || Boolean(process.env.DEBUG)
  }
}

function warningsField(): {warnings?: string[]} {
  const said = warnings()
  return said.length > 0 ? {warnings: said} : {}
}

export function describeError(err: unknown): JsonError {
  if (err instanceof KpError) {
    return {
      exitCode: err.exitCode,
      kind: err.kind,
      message: redact(err.message),
      ...(err.hint ? {hint: redact(err.hint)} : {}),
      ...(err.runbook ? {runbook: err.runbook} : {}),
      ...(err.runId ? {runId: err.runId} : {}),
    }
  }

  const e = err as Error & {oclif?: {exit?: number}}
  if (e instanceof Errors.CLIError || e?.oclif?.exit !== undefined) {
    // oclif's own parse and flag errors: usage errors.
    return {exitCode: e.oclif?.exit ?? ExitCode.usage, kind: 'usage', message: redact(stripAnsi(e.message))}
  }

  return {
    exitCode: ExitCode.stepFailed,
    hint: 'This is a bug in kp. Run again with --verbose for the stack trace and report it.',
    kind: 'bug',
    message: redact(e instanceof Error ? e.message : String(err)),
  }
}

/** Red for the error; the whole message for a refusal (a changed host key, say), which must not be skimmed. */
export function formatError(error: JsonError, stack?: string, colour?: ChalkInstance): string {
  const red = colour?.red ?? String
  const refused = error.exitCode === ExitCode.refused
  const lines = [refused ? red(`Error: ${error.message}`) : `${red('Error:')} ${error.message}`]
  if (error.runbook) lines.push(`  Runbook: ${error.runbook}`)
  if (error.hint) lines.push(`  ${colour?.bold('Hint:') ?? 'Hint:'} ${error.hint}`)
  if (stack) lines.push('', redact(stack))
  return lines.join('\n') + '\n'
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replaceAll(/\u001B\[[0-9;]*m/g, '')
}
