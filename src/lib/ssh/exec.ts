/**
 * One command on one channel of an open connection: stdin, streamed and collected output, the
 * exit status, a timeout and cancellation. Every command, its output lines and its exit code go to
 * the log, redacted.
 */
import {StringDecoder} from 'node:string_decoder'

import type {Client, ClientChannel} from 'ssh2'

import {InterruptedError} from '../errors.js'
import {redact} from '../redact.js'
import {signalName, SshConnectionLostError, SshTimeoutError} from './errors.js'
import type {ExecOptions, ExecResult, SshTarget} from './types.js'

/**
 * sshd refused a new channel (MaxSessions reached while closed channels are still being torn down
 * on its side). The command never started, so trying again is safe.
 */
export class ChannelRefusedError extends SshConnectionLostError {}

/** Whether the connection a command runs on has closed (one listener per connection, kept by the session). */
export interface ConnectionState {
  closed: boolean
  whenClosed: Promise<void>
}

/**
 * How long a command killed by a signal waits to see whether its connection goes too: sshd killed
 * under a session (a crash, the lab's --drop-next-ssh) may still report the session's SIGKILL
 * before the TCP connection closes, and that is a dropped session, not the command's own failure.
 */
const DROP_GRACE_MS = 1000

export interface RunOptions extends ExecOptions {
  connection?: ConnectionState
  /** What the log shows for the command (the line as given, before `sudo -n sh -c` wrapping). */
  display: string
  log?: (scope: string, line: string) => void
  timeoutMs: number
}

/** Splits a stream into lines for the log; the last partial line is flushed at the end. */
class LineLog {
  private rest = ''
  constructor(private readonly emit: (line: string) => void) {}
  push(chunk: string): void {
    const lines = (this.rest + chunk).split('\n')
    this.rest = lines.pop() ?? ''
    for (const line of lines) this.emit(line.replace(/\r$/, ''))
  }

  flush(): void {
    if (this.rest) this.emit(this.rest)
    this.rest = ''
  }
}

export function runOnChannel(client: Client, target: SshTarget, line: string, options: RunOptions): Promise<ExecResult> {
  const log = (text: string) => options.log?.(target.name, redact(text))
  const started = Date.now()
  log(`$ ${options.display}`)
  return new Promise<ExecResult>((resolve, reject) => {
    let settled = false
    let channel: ClientChannel | undefined
    let exit: {code: number; signal?: string} | undefined
    const out = {stderr: '', stdout: ''}
    // A secret the node just made (a join token) is not registered with the redactor yet.
    const outLog = new LineLog((l) => log(options.secretOutput ? '  | (output withheld: it holds a secret)' : `  | ${l}`))
    const errLog = new LineLog((l) => log(`  ! ${l}`))

    const settle = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      outLog.flush()
      errLog.flush()
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      if (error) {
        log(`  ${error.message} (${seconds}s)`)
        // Stop the remote command and give the channel back; the connection stays for others.
        try {
          if (channel) signalChannel(channel, 'TERM')
          channel?.close()
        } catch {
          // The channel may already be gone with its connection.
        }

        reject(error)
        return
      }

      log(`  exit ${exit!.code}${exit!.signal ? ` (${signalName(exit!.signal)})` : ''} (${seconds}s)`)
      resolve({code: exit!.code, stderr: out.stderr, stdout: out.stdout, ...(exit!.signal ? {signal: exit!.signal} : {})})
    }

    const onAbort = () => settle(new InterruptedError(`${target.name}: interrupted: ${options.display}`))
    if (options.signal?.aborted) return onAbort()
    options.signal?.addEventListener('abort', onAbort, {once: true})
    const timer = setTimeout(
      () => settle(new SshTimeoutError(`${target.name}: \`${options.display}\` did not finish within ${Math.round(options.timeoutMs / 1000)}s`, {hint: 'It was stopped. Look at the node with "kp ssh" to see what it waits for.'})),
      options.timeoutMs,
    )

    client.exec(line, (error, ch) => {
      if (error) {
        const Failure = (error as Error & {reason?: number}).reason === undefined ? SshConnectionLostError : ChannelRefusedError
        return settle(new Failure(`${target.name}: cannot start \`${options.display}\`: ${error.message}`, {cause: error}))
      }

      channel = ch
      if (settled) {
        // Timed out or aborted while the channel was opening.
        ch.close()
        return
      }

      const collect = (key: 'stderr' | 'stdout', lineLog: LineLog, callback?: (chunk: string) => void) => {
        const decoder = new StringDecoder('utf8')
        return (data: Buffer) => {
          const text = decoder.write(data)
          out[key] += text
          lineLog.push(text)
          callback?.(text)
        }
      }

      if (options.onStdoutBytes) {
        const sink = options.onStdoutBytes
        let bytes = 0
        ch.on('data', (data: Buffer) => {
          if (settled) return
          bytes += data.length
          try {
            sink(data)
          } catch (error) {
            settle(error instanceof Error ? error : new Error(String(error)))
          }
        })
        ch.once('close', () => log(`  | (${bytes} bytes of binary output, not logged)`))
      } else {
        ch.on('data', collect('stdout', outLog, options.onStdout))
      }

      ch.stderr.on('data', collect('stderr', errLog, options.onStderr))
      ch.on('exit', (code: number | null, signal?: string) => {
        exit = {code: code ?? 255, ...(signal ? {signal} : {})}
      })
      ch.on('close', () => {
        const dropped = () => settle(new SshConnectionLostError(`${target.name}: the connection dropped while running \`${options.display}\``))
        const connection = options.connection
        if (!exit) return dropped()
        if (!exit.signal || !connection) return settle()
        if (connection.closed) return dropped()
        const grace = setTimeout(() => settle(), DROP_GRACE_MS)
        void connection.whenClosed.then(() => {
          clearTimeout(grace)
          dropped()
        })
      })
      if (options.input === undefined) ch.end()
      else ch.end(options.input)
    })
  })
}

/**
 * ssh2's channel.signal() does nothing once stdin was ended (it checks `writable`), yet the
 * protocol allows a signal request on any open session channel and sshd delivers it to the
 * command's process group (sudo relays TERM to its child; KILL it could not).
 */
function signalChannel(channel: ClientChannel, name: string): void {
  const c = channel as unknown as {_client?: {_protocol?: {signal(id: number, signal: string): void}}; outgoing?: {id: number; state: string}}
  if (c.outgoing?.state === 'open' || c.outgoing?.state === 'eof') c._client?._protocol?.signal(c.outgoing.id, name)
}
