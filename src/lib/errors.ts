/**
 * Typed errors, one class per failure domain, each with the exit code the README documents and a
 * hint naming the next command or runbook section. Wrap once per layer ("drain node w1: evicting
 * pod x: …") with `wrap`, keeping the original's class and code.
 */

export const ExitCode = {
  ok: 0,
  stepFailed: 1,
  usage: 2,
  locked: 3,
  refused: 4,
  deadline: 5,
  interrupted: 130,
} as const

export type ErrorKind =
  | 'config'
  | 'usage'
  | 'ssh'
  | 'proxmox'
  | 'kubernetes'
  | 'external-command'
  | 'step-failed'
  | 'locked'
  | 'refused'
  | 'deadline'
  | 'interrupted'
  | 'bug'

export interface KpErrorOptions {
  hint?: string
  /** `runbooks/<workflow>.md#<heading>` for a failed step. */
  runbook?: string
  runId?: string
  cause?: unknown
}

export class KpError extends Error {
  readonly kind: ErrorKind
  readonly exitCode: number
  hint?: string
  runbook?: string
  runId?: string

  constructor(kind: ErrorKind, exitCode: number, message: string, options: KpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause})
    this.name = 'KpError'
    this.kind = kind
    this.exitCode = exitCode
    this.hint = options.hint
    this.runbook = options.runbook
    this.runId = options.runId
  }
}

export class ConfigError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('config', ExitCode.usage, message, options)
  }
}

export class UsageError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('usage', ExitCode.usage, message, options)
  }
}

export class LockedError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('locked', ExitCode.locked, message, options)
  }
}

/** A safety guard said no: no --yes without a TTY, version skew, quorum, PDB policy. */
export class RefusedError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('refused', ExitCode.refused, message, options)
  }
}

/**
 * A run stopped on purpose at the operator's deadline (`--not-after`) before it started on the next
 * target: nothing failed, and what was started is finished. The runner keeps its exit code (5).
 */
export class DeadlineError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('deadline', ExitCode.deadline, message, options)
  }
}

export class InterruptedError extends KpError {
  constructor(message = 'interrupted', options: KpErrorOptions = {}) {
    super('interrupted', ExitCode.interrupted, message, options)
  }
}

export class ExternalCommandError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('external-command', ExitCode.stepFailed, message, options)
  }
}

export class StepFailedError extends KpError {
  constructor(message: string, options: KpErrorOptions = {}) {
    super('step-failed', ExitCode.stepFailed, message, options)
  }
}

/** Prefix a layer's context onto an error without losing its class, code or hint. */
export function wrap(context: string, error: unknown): Error {
  if (error instanceof KpError) {
    error.message = `${context}: ${error.message}`
    return error
  }

  const message = error instanceof Error ? error.message : String(error)
  return new KpError('bug', ExitCode.stepFailed, `${context}: ${message}`, {cause: error})
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
