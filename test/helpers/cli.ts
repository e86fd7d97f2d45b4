import {execFile, spawn, type ChildProcess} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

export const repoRoot = path.resolve(import.meta.dirname, '..', '..')
/** The built CLI, run the way a user runs it. `npm test` builds first. */
export const kpBin = path.join(repoRoot, 'bin', 'run.js')

export interface KpResult {
  code: number
  stderr: string
  stdout: string
}

export interface KpOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  input?: string
  timeoutMs?: number
}

/** A fresh, empty folder for one test's state, config and files. */
export function tempDir(prefix = 'kp-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix))
}

/** Environment for a child kp: no colour, no inherited KP_* settings, no TTY. */
export function kpEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('KP_') && k !== 'FORCE_COLOR') env[k] = v
  }

  return {...env, NO_COLOR: '1', ...extra}
}

export function runKp(args: string[], options: KpOptions = {}): Promise<KpResult> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [kpBin, ...args],
      {cwd: options.cwd ?? repoRoot, encoding: 'utf8', env: kpEnv(options.env), maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 60_000},
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : (child.exitCode ?? 1)) : 0
        resolve({code, stderr, stdout})
      },
    )
    if (options.input !== undefined) child.stdin?.end(options.input)
    else child.stdin?.end()
  })
}

/** Start kp without waiting, for tests that signal or kill it mid-run. */
export function spawnKp(args: string[], options: KpOptions = {}): {child: ChildProcess; done: Promise<KpResult>} {
  const child = spawn(process.execPath, [kpBin, ...args], {cwd: options.cwd ?? repoRoot, env: kpEnv(options.env), stdio: ['ignore', 'pipe', 'pipe']})
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const done = new Promise<KpResult>((resolve) => {
    child.on('close', (code, signal) => resolve({code: code ?? (signal === 'SIGKILL' ? 137 : 1), stderr, stdout}))
  })
  return {child, done}
}

/** Parse the JSON envelope a `--json` run printed. */
export function parseEnvelope<T = unknown>(stdout: string): {command: string; error?: {exitCode: number; hint?: string; kind: string; message: string; runId?: string; runbook?: string}; ok: boolean; result?: T} {
  return JSON.parse(stdout) as never
}
