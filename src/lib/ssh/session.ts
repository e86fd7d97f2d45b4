/**
 * A session is one host's connection and everything done over it: commands on multiplexed
 * channels, uploads, boot ids, reboots. After a drop the next call reconnects (a few tries, with
 * backoff), so a step after a reboot or a Wi-Fi blip does not fail for a stale socket; a command
 * marked idempotent that the drop cut off runs again. This lives here, not in the pool's owner,
 * so it holds whoever keeps the pool.
 */
import type {Client} from 'ssh2'

import {redact} from '../redact.js'
import {signalName, SshCommandError, SshConnectError, SshConnectionLostError, SshSessionClosedError, SshTimeoutError, SudoPasswordError} from './errors.js'
import {ChannelRefusedError, type ConnectionState, runOnChannel} from './exec.js'
import {asRoot, commandLine, sudoWantsPassword} from './quote.js'
import {abortableSleep, rebootAndWait} from './reboot.js'
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
/** Tries of an idempotent command whose connection dropped under it, and of reconnecting after a drop. */
export const DROP_ATTEMPTS = 3
export const RECONNECT_ATTEMPTS = 3
/** Signals that end a session from outside (sshd killed, the link hung up), not a command's own crash. */
const CUT_SIGNALS = new Set(['SIGHUP', 'SIGKILL', 'SIGPIPE', 'SIGTERM'])
/** Backoff before the next try: 0.5 s, 1 s, 2 s… (tests shorten it). */
export const DROP_BACKOFF = {firstMs: 500, maxMs: 5000}
const backoff = (attempt: number) => Math.min(DROP_BACKOFF.maxMs, DROP_BACKOFF.firstMs * 2 ** (attempt - 1))

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
  private readonly connections = new WeakMap<Client, ConnectionState>()
  /** The connection closed without close(): the next use reconnects with a few tries. */
  private dropped = false
  private finished = false
  private reconnecting: Promise<Client> | undefined
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor(readonly target: SshTarget, private readonly ctx: SessionContext, client: Client) {
    this.adopt(client)
  }

  async bootId(): Promise<string> {
    return (await this.exec(['cat', '/proc/sys/kernel/random/boot_id'], {idempotent: true})).stdout.trim()
  }

  /** The run is over: close the connection, and never reconnect (a command still running fails). */
  async close(): Promise<void> {
    this.finished = true
    await this.disconnect()
  }

  private async disconnect(): Promise<void> {
    const client = this.client
    this.client = undefined
    this.dropped = false
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
    const display = sudo ? `sudo ${line}` : line
    let client: Client | undefined
    const run = async () => {
      client = await this.live()
      await this.acquire()
      try {
        return await runOnChannel(client, this.target, sudo ? asRoot(line, this.target.user) : line, {
          ...options,
          connection: this.connections.get(client),
          display,
          log: this.ctx.log,
          signal,
          timeoutMs: options.timeoutMs ?? this.ctx.commandTimeoutMs,
        })
      } finally {
        this.release()
      }
    }

    let result: ExecResult | undefined
    for (let attempt = 1, drops = 0; !result; attempt++) {
      let cut: string | undefined
      try {
        result = await run()
        // sshd killing the session under a command (a crash, the lab's --drop-next-ssh) reports the
        // session's signal while the connection stays: for an idempotent command, a cut like a drop.
        if (options.idempotent && result.signal && CUT_SIGNALS.has(signalName(result.signal))) {
          cut = `, its session killed by ${signalName(result.signal)}`
          result = undefined
        }
      } catch (error) {
        if (error instanceof ChannelRefusedError && attempt < CHANNEL_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt))
          continue
        }

        if (!(error instanceof SshConnectionLostError) || error instanceof ChannelRefusedError || error instanceof SshSessionClosedError) throw error
        if (client) this.forget(client)
        if (!options.idempotent) {
          throw new SshSessionClosedError(this.target, `while running \`${display}\`; kp did not run it again, since it may have acted before the drop`, {cause: error})
        }

        cut = ''
      }

      if (cut === undefined) continue
      drops++
      if (drops >= DROP_ATTEMPTS) throw new SshSessionClosedError(this.target, `while running \`${display}\`${cut}, ${drops} times in a row`)
      this.ctx.log?.(this.target.name, redact(`  the session was closed under \`${display}\`${cut}: running it again (try ${drops + 1} of ${DROP_ATTEMPTS})`))
      await abortableSleep(backoff(drops), signal, `${this.target.name} to reconnect`)
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
          await this.disconnect()
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
    // Writing the same file again is harmless: a drop mid-upload is retried.
    await this.exec(['sh', '-c', UPLOAD_SCRIPT, 'kp-upload', remotePath, mode, options.owner ?? ''], {idempotent: true, input: content, sudo: options.sudo})
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
    let closed!: () => void
    const state: ConnectionState = {closed: false, whenClosed: new Promise<void>((resolve) => (closed = resolve))}
    this.connections.set(client, state)
    client.on('close', () => {
      state.closed = true
      closed()
      if (this.client !== client) return
      this.client = undefined
      this.dropped = true
    })
  }

  /** A command saw its connection drop: never use that client again, even if ssh2 has not noticed yet. */
  private forget(client: Client): void {
    if (this.client !== client) return
    this.client = undefined
    this.dropped = true
    client.destroy()
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
    if (this.finished) throw new SshSessionClosedError(this.target, 'by kp: the run is ending')
    this.reconnecting ??= this.connectAgain(timeoutMs).then(
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

  /**
   * After a drop, a few tries with backoff (sshd restarting, a blip on the link). After disconnect() one
   * try: rebootAndWait, its only caller then, waits in its own loop up to its deadline.
   */
  private async connectAgain(timeoutMs?: number): Promise<Client> {
    const tries = this.dropped ? RECONNECT_ATTEMPTS : 1
    for (let attempt = 1; ; attempt++) {
      try {
        const client = await this.ctx.connect(this.target, timeoutMs)
        this.dropped = false
        return client
      } catch (error) {
        // A changed host key or refused credentials cannot get better by trying again.
        if (!(error instanceof SshConnectError)) throw error
        if (attempt >= tries) {
          if (!this.dropped) throw error
          throw new SshSessionClosedError(this.target, `and kp could not reconnect (${attempt} tries): ${error.message}`, {cause: error, ...(error.hint ? {hint: error.hint} : {})})
        }

        this.ctx.log?.(this.target.name, `  reconnecting after a dropped session: ${error.message} (try ${attempt + 1} of ${tries} next)`)
        await abortableSleep(backoff(attempt), this.ctx.signal, `${this.target.name} to reconnect`)
      }
    }
  }

  private release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.active--
  }
}
