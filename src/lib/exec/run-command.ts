/**
 * The execa adapter: the only code in kp that starts local processes. Arguments are arrays, never a
 * shell string; every message it builds is redacted; execa itself is imported on first use so
 * commands that never run a process never load it.
 */
import {ExternalCommandError, InterruptedError} from '../errors.js'
import {redact} from '../redact.js'

export interface RunOptions {
  cwd?: string
  /** Added to the inherited environment. */
  env?: Record<string, string | undefined>
  /** Written to the process's stdin; without it stdin is closed (`/dev/null`). */
  input?: string
  /** false: a non-zero exit is returned, not thrown (failing to start, timeouts and aborts still throw). */
  reject?: boolean
  /** Aborting kills the process and throws InterruptedError. */
  signal?: AbortSignal
  /** Kill the process after this long and throw. No limit by default. */
  timeoutMs?: number
}

export interface RunResult {
  exitCode: number
  stderr: string
  stdout: string
}

export async function runCommand(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const {execa} = await import('execa')
  const shown = displayCommand(file, args)
  if (options.signal?.aborted) throw new InterruptedError(`${shown}: not started, the run was interrupted`)
  const result = await execa(file, [...args], {
    cancelSignal: options.signal,
    cwd: options.cwd,
    env: options.env,
    reject: false,
    timeout: options.timeoutMs,
    ...(options.input === undefined ? {stdin: 'ignore' as const} : {input: options.input}),
  })
  const stdout = typeof result.stdout === 'string' ? result.stdout : ''
  const stderr = typeof result.stderr === 'string' ? result.stderr : ''
  if (result.isCanceled) throw new InterruptedError(`${shown}: stopped, the run was interrupted`)
  if (result.timedOut) {
    throw new ExternalCommandError(redact(`${shown} did not finish within ${formatMs(options.timeoutMs ?? 0)} and was stopped${tail(stderr)}`))
  }

  const code = (result as {code?: string}).code
  if (code === 'ENOENT') {
    throw new ExternalCommandError(redact(`${file}: command not found`), {hint: `Install ${file} or check $PATH.`})
  }

  if (result.exitCode === undefined) {
    // Killed by a signal or failed to start for another reason (EACCES, …).
    const why = result.signal ? `was killed by ${result.signal}` : `could not be started (${code ?? 'unknown error'})`
    throw new ExternalCommandError(redact(`${shown} ${why}${tail(stderr)}`))
  }

  if (result.exitCode !== 0 && options.reject !== false) {
    throw new ExternalCommandError(redact(`${shown} exited with code ${result.exitCode}${tail(stderr)}`))
  }

  return {exitCode: result.exitCode, stderr, stdout}
}

/** The first non-empty line of stderr, which is where tools say what went wrong. Never stdout. */
export function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? ''
  )
}

function tail(stderr: string): string {
  const line = firstLine(stderr)
  return line ? `: ${line.length > 300 ? `${line.slice(0, 300)}…` : line}` : ''
}

function displayCommand(file: string, args: readonly string[]): string {
  const text = [file, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", String.raw`'\''`)}'`)).join(' ')
  return `"${text.length > 200 ? `${text.slice(0, 200)}…` : text}"`
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}
