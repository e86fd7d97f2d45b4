/**
 * Secrets never live in kp.yaml: it says where to read them. Every value resolved here is
 * registered for redaction before it is returned, and no message built here contains a secret or
 * a secret command's standard output.
 */
import {readFile, stat} from 'node:fs/promises'
import path from 'node:path'

import {errorMessage, InterruptedError} from '../errors.js'
import {splitCommandLine} from '../exec/argv.js'
import {runCommand} from '../exec/run-command.js'
import {expandHome} from '../paths.js'
import {registerSecret} from '../redact.js'
import type {SecretSource} from './schema.js'

export const SECRET_COMMAND_TIMEOUT_MS = 30_000

/** A secret could not be read; the message is safe to show and says what to do. */
export class SecretError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SecretError'
  }
}

export interface ResolveSecretOptions {
  /** Folder that relative secret files and secret commands resolve against: kp.yaml's folder. */
  dir: string
  env?: NodeJS.ProcessEnv
  signal?: AbortSignal
}

export async function resolveSecret(source: SecretSource, options: ResolveSecretOptions): Promise<string> {
  let value: string
  if ('env' in source) value = fromEnv(source.env, options.env ?? process.env)
  else if ('file' in source) value = await fromFile(path.resolve(options.dir, expandHome(source.file)))
  else value = await fromCommand(source.command, options)
  registerSecret(value)
  return value
}

function fromEnv(name: string, env: NodeJS.ProcessEnv): string {
  const value = env[name]
  if (value === undefined) throw new SecretError(`environment variable ${name} is not set: export ${name}=… before running kp`)
  if (value.trim() === '') throw new SecretError(`environment variable ${name} is empty: export ${name}=… before running kp`)
  return value
}

async function fromFile(file: string): Promise<string> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new SecretError(error.code === 'ENOENT' ? `secret file ${file} does not exist` : `cannot read secret file ${file}: ${error.code ?? errorMessage(error)}`)
  })
  if (!info.isFile()) throw new SecretError(`secret file ${file} is not a regular file`)
  // Group or others may read (or write) it: the secret is not a secret. 0600 and 0400 pass.
  if ((info.mode & 0o077) !== 0) {
    throw new SecretError(`secret file ${file} is accessible to other users (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}): run chmod 600 ${file}`)
  }

  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new SecretError(`cannot read secret file ${file}: ${error.code ?? errorMessage(error)}`)
  })
  const value = text.replace(/\r?\n+$/, '')
  if (value.trim() === '') throw new SecretError(`secret file ${file} is empty`)
  return value
}

async function fromCommand(line: string, options: ResolveSecretOptions): Promise<string> {
  const split = splitCommandLine(line)
  if (!split.ok) throw new SecretError(`secret command: ${split.error}`)
  const [file, ...args] = split.argv
  let stdout: string
  try {
    ;({stdout} = await runCommand(file!, args, {cwd: options.dir, signal: options.signal, timeoutMs: SECRET_COMMAND_TIMEOUT_MS}))
  } catch (error) {
    if (error instanceof InterruptedError) throw error
    // runCommand's messages carry the exit status and stderr's first line, never stdout.
    throw new SecretError(`secret command failed: ${errorMessage(error)}`)
  }

  // Like pass(1): the secret is the first line; later lines are notes.
  const value = (stdout.split('\n')[0] ?? '').replace(/\r$/, '')
  if (value.trim() === '') throw new SecretError(`secret command "${line}" printed nothing on its first line`)
  return value
}
