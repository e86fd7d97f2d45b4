/**
 * A session is one host's connection and everything done over it: commands on multiplexed
 * channels, uploads, boot ids, reboots. After a drop the next call reconnects (one new
 * connection), so a step after a reboot or a Wi-Fi blip does not fail for a stale socket.
 */
import type {Client} from 'ssh2'

import {SshCommandError, SshConnectionLostError, SshTimeoutError, SudoPasswordError} from './errors.js'
import {ChannelRefusedError, runOnChannel} from './exec.js'
import {asRoot, commandLine, sudoWantsPassword} from './quote.js'
import {rebootAndWait} from './reboot.js'
import {openShell} from './shell.js'
import type {ExecOptions, ExecResult, ShellOptions, SshSession, SshTarget} from './types.js'

export interface SessionContext {
  commandTimeoutMs: number
  connect(target: SshTarget, timeoutMs?: number): Promise<Client>
  connectTimeoutMs: number
  log?: (scope: string, line: string) => void
  signal?: AbortSignal
}

/** sshd allows 10 sessions per connection (MaxSessions); stay below it and queue the rest. */
const MAX_CHANNELS = 8
const CHANNEL_ATTEMPTS = 5

const UPLOAD_SCRIPT = [
  'set -e',
  'tmp=$(mktemp "$(dirname "$1")/.kp-upload.XXXXXX")',
  'trap \'rm -f "$tmp"\' EXIT',
  'cat > "$tmp"',
  'chmod "$2" "$tmp"',
  'if [ -n "$3" ]; then chown "$3" "$tmp"; fi',
  // rename(2) in the same folder: readers see the old file or the new one, never half of it.
  'mv -f "$tmp" "$1"',
  'trap - EXIT',
].join('; ')

export class Session implements SshSession {
  private client: Client | undefined
  private reconnecting: Promise<Client> | undefined
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(readonly target: SshTarget, private readonly ctx: SessionContext, client: Client) {
    this.adopt(client)
  }

  async bootId(): Promise<string> {
    return (await this.exec(['cat', '/proc/sys/kernel/random/boot_id'])).stdout.trim()
  }

  async close(): Promise<void> {
    const client = this.client
    this.client = undefined
    if (!client) return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        client.destroy()
        resolve()
      }, 2000)
      client.once('close', () => {
        clearTimeout(timer)
        resolve()
      })
      client.end()
    })
  }

  async exec(command: string | readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    const line = commandLine(command)
    const sudo = Boolean(options.sudo) && this.target.user !== 'root'
    const signal = options.signal && this.ctx.signal ? AbortSignal.any([options.signal, this.ctx.signal]) : (options.signal ?? this.ctx.signal)
    const run = async () => {
      const client = await this.live()
      await this.acquire()
      try {
        return await runOnChannel(client, this.target, sudo ? asRoot(line, this.target.user) : line, {
          ...options,
          display: sudo ? `sudo ${line}` : line,
          log: this.ctx.log,
          signal,
          timeoutMs: options.timeoutMs ?? this.ctx.commandTimeoutMs,
        })
      } finally {
        this.release()
      }
    }

    let result: ExecResult | undefined
    for (let attempt = 1; !result; attempt++) {
      try {
        result = await run()
      } catch (error) {
        if (!(error instanceof ChannelRefusedError) || attempt >= CHANNEL_ATTEMPTS) throw error
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt))
      }
    }

    if (sudo && result.code === 1 && sudoWantsPassword(result.stderr)) throw new SudoPasswordError(this.target)
    if (result.code !== 0 && !options.allowFailure) throw new SshCommandError(this.target, line, result.code, result.stdout, result.stderr, result.signal)
    return result
  }

  async rebootAndWait(options: {timeoutMs?: number} = {}): Promise<{bootId: string; seconds: number}> {
    return rebootAndWait(
      {
        bootId: () => this.bootId(),
        connectTimeoutMs: this.ctx.connectTimeoutMs,
        name: this.target.name,
        reboot: (deadline) => this.issueReboot(deadline),
        reconnectBootId: async (timeoutMs) => {
          await this.close()
          await this.live(timeoutMs)
          return this.bootId()
        },
        signal: this.ctx.signal,
      },
      options.timeoutMs ?? 10 * 60_000,
    )
  }

  async shell(options: ShellOptions): Promise<number> {
    return openShell(await this.live(), options)
  }

  async upload(remotePath: string, content: string | Buffer, options: {mode?: number; owner?: string; sudo?: boolean} = {}): Promise<void> {
    const mode = (options.mode ?? 0o644).toString(8).padStart(4, '0')
    await this.exec(['sh', '-c', UPLOAD_SCRIPT, 'kp-upload', remotePath, mode, options.owner ?? ''], {input: content, sudo: options.sudo})
  }

  private async acquire(): Promise<void> {
    if (this.active < MAX_CHANNELS) {
      this.active++
      return
    }

    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  private adopt(client: Client): void {
    this.client = client
    client.on('close', () => {
      if (this.client === client) this.client = undefined
    })
  }

  /**
   * Issue the reboot and wait for the connection to drop. `reboot` may return, or the connection
   * may drop under it first: both mean it was issued.
   */
  private async issueReboot(deadline: number): Promise<void> {
    const client = await this.live()
    const dropped = new Promise<void>((resolve) => client.once('close', () => resolve()))
    try {
      await this.exec('reboot', {sudo: true, timeoutMs: Math.max(1000, Math.min(30_000, deadline - Date.now()))})
    } catch (error) {
      if (!(error instanceof SshConnectionLostError || error instanceof SshTimeoutError)) throw error
    }

    let timer: NodeJS.Timeout | undefined
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()))))
    const outcome = await Promise.race([dropped, late])
    clearTimeout(timer)
    if (outcome === 'late') throw new SshTimeoutError(`${this.target.name}: the reboot was issued but the connection never dropped`, {hint: 'Look at the VM console in Proxmox: the shutdown may hang on a service.'})
  }

  private async live(timeoutMs?: number): Promise<Client> {
    if (this.client) return this.client
    this.reconnecting ??= this.ctx.connect(this.target, timeoutMs).then(
      (client) => {
        this.reconnecting = undefined
        this.adopt(client)
        return client
      },
      (error: unknown) => {
        this.reconnecting = undefined
        throw error
      },
    )
    return this.reconnecting
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.active--
  }
}
