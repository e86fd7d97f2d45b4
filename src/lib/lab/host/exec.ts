/**
 * Running host tools (ip, mount, debootstrap, gpg…) for the lab. Arguments are always arrays; a
 * failure becomes an ExternalCommandError carrying the command and the tail of its stderr.
 */
import {spawn} from 'node:child_process'

import {ExternalCommandError} from '../../errors.js'

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string | Buffer
  /** Resolve with the exit code instead of throwing when the command fails. */
  allowFailure?: boolean
  timeoutMs?: number
}

export interface RunResult {
  code: number
  stderr: string
  stdout: string
}

/** The sbin folders are not on every PATH (sudo, cron); the lab's tools live there. */
export const LAB_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export function labEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {...process.env, LC_ALL: 'C', PATH: `${process.env.PATH ?? ''}:${LAB_PATH}`, ...extra}
}

export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {cwd: options.cwd, env: options.env ?? labEnv(), stdio: ['pipe', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    let timedOut = false
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, options.timeoutMs)
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', (error) => {
      if (timer) clearTimeout(timer)
      reject(new ExternalCommandError(`${cmd}: ${error.message}`, {cause: error}))
    })
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer)
      const result = {code: code ?? 128, stderr: Buffer.concat(err).toString('utf8'), stdout: Buffer.concat(out).toString('utf8')}
      if (result.code === 0 || options.allowFailure) {
        resolve(result)
        return
      }

      const why = timedOut ? `timed out after ${options.timeoutMs} ms` : signal ? `was killed by ${signal}` : `exited with code ${result.code}`
      reject(new ExternalCommandError(`${describe(cmd, args)} ${why}${tail(result.stderr || result.stdout)}`))
    })
    child.stdin.on('error', () => {})
    child.stdin.end(options.input)
  })
}

function describe(cmd: string, args: readonly string[]): string {
  const line = [cmd, ...args].join(' ')
  return line.length > 200 ? `${line.slice(0, 200)}…` : line
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean).slice(-8)
  return lines.length > 0 ? `:\n${lines.join('\n')}` : ''
}
