import {execFile} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import path from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

export const isRoot = process.getuid?.() === 0

export interface Run {
  code: number
  stderr: string
  stdout: string
}

export function sh(cmd: string, args: string[], options: {input?: string; timeoutMs?: number} = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: options.timeoutMs ?? 120_000}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : (child.exitCode ?? 255)) : 0
      resolve({code, stderr, stdout})
    })
    child.stdin?.end(options.input)
  })
}

/** The real OpenSSH client, with a key and a known_hosts file of the test's own. */
export class SshClient {
  readonly knownHosts: string

  constructor(
    readonly dir: string,
    readonly key: string,
    readonly user: string,
  ) {
    this.knownHosts = path.join(dir, 'known_hosts')
  }

  static async create(dir: string, user: string): Promise<SshClient> {
    const key = path.join(dir, 'id_ed25519')
    const made = await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kp-lab-test', '-f', key])
    if (made.code !== 0) throw new Error(`ssh-keygen: ${made.stderr}`)
    return new SshClient(dir, key, user)
  }

  /** Pins a host's key (from the guest agent, as kp does at seeding). */
  pin(ip: string, publicKeyLine: string): void {
    const [type, blob] = publicKeyLine.trim().split(/\s+/)
    writeFileSync(this.knownHosts, `${ip} ${type} ${blob}\n`, {flag: 'a'})
  }

  args(ip: string, extra: string[] = []): string[] {
    return [
      '-F', '/dev/null',
      '-i', this.key,
      '-o', 'IdentitiesOnly=yes',
      '-o', `UserKnownHostsFile=${this.knownHosts}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5',
      '-o', 'ServerAliveInterval=2',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'LogLevel=ERROR',
      ...extra,
      `${this.user}@${ip}`,
    ]
  }

  run(ip: string, command: string, options: {input?: string; timeoutMs?: number} = {}): Promise<Run> {
    return sh('ssh', [...this.args(ip), command], options)
  }

  /** Runs a command and fails the test with its output when it does not exit 0. */
  async ok(ip: string, command: string, timeoutMs = 300_000): Promise<string> {
    const r = await this.run(ip, command, {timeoutMs})
    if (r.code !== 0) throw new Error(`ssh ${ip} ${command}: exit ${r.code}\n${r.stderr}\n${r.stdout}`.slice(0, 4000))
    return r.stdout
  }

  /** Waits until `ssh … true` succeeds; returns the seconds it took. */
  async waitUp(ip: string, timeoutMs = 60_000): Promise<number> {
    const started = Date.now()
    for (;;) {
      const r = await this.run(ip, 'true', {timeoutMs: 10_000})
      if (r.code === 0) return (Date.now() - started) / 1000
      if (Date.now() - started > timeoutMs) throw new Error(`ssh ${ip} not up after ${timeoutMs} ms: ${r.stderr}`)
      await sleep(100)
    }
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/**
 * Calls `probe` every `intervalMs` (from the start of one call to the next) until stopped, for the
 * availability a lab test samples while kp works; each sample is the probe's answer and its time.
 */
export function sampleEvery<T>(intervalMs: number, probe: () => Promise<T>): {stop: () => Promise<Array<T & {at: number}>>} {
  const samples: Array<T & {at: number}> = []
  let running = true
  const loop = (async () => {
    while (running) {
      const at = Date.now()
      samples.push({...(await probe()), at})
      await sleep(Math.max(0, intervalMs - (Date.now() - at)))
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return samples
    },
  }
}
