/**
 * Open one authenticated ssh2 connection: TCP (or a channel through the jump host), host key
 * verification against the known_hosts files, login. Every failure becomes a typed error that
 * names user@host:port and says what to check.
 */
import {homedir} from 'node:os'
import path from 'node:path'
import type {Duplex} from 'node:stream'

import type {Client} from 'ssh2'

import {InterruptedError, KpError, ExitCode} from '../errors.js'
import {pinHostKey} from '../known-hosts.js'
import type {Credentials} from './credentials.js'
import {HostKeyChangedError, HostKeyUnknownError, SshAuthError, SshConnectError, where} from './errors.js'
import {checkHostKey, fingerprint, hostKeyAlgorithms, keyTypeOf, readKnownHostsFiles} from './host-keys.js'
import type {Ssh2} from './load.js'
import type {SshPoolOptions, SshTarget} from './types.js'

export interface ConnectContext {
  credentials: Credentials
  options: SshPoolOptions
  ssh2: Ssh2
}

export interface ConnectOptions {
  signal?: AbortSignal
  /** A stream to the target through the jump host; TCP straight to it otherwise. */
  sock?: Duplex
  timeoutMs: number
}

export function knownHostsFiles(options: SshPoolOptions): string[] {
  const files = [options.knownHostsFile]
  if (options.readUserKnownHosts ?? true) files.push(options.userKnownHostsFile ?? path.join(homedir(), '.ssh', 'known_hosts'))
  return files
}

/** Resolves once logged in; the caller owns the client and must end() it. */
export function connect(ctx: ConnectContext, target: Pick<SshTarget, 'host' | 'port' | 'user'>, opts: ConnectOptions): Promise<Client> {
  const {credentials, options, ssh2} = ctx
  const files = knownHostsFiles(options)
  const entries = readKnownHostsFiles(files)
  const client = new ssh2.Client()
  const id = where(target)

  return new Promise<Client>((resolve, reject) => {
    let settled = false
    let failure: Error | undefined
    let pendingPin: {key: string; type: string} | undefined
    let timer: NodeJS.Timeout | undefined
    const startTimer = () => {
      timer = setTimeout(() => fail(new SshConnectError(`${id}: no SSH answer within ${Math.round(opts.timeoutMs / 1000)}s`, {hint: CONNECT_HINT})), opts.timeoutMs)
    }

    const finish = (error?: Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (error) {
        client.destroy()
        reject(error)
      } else resolve(client)
    }

    const fail = (error: Error) => {
      failure ??= error
      finish(failure)
    }

    const onAbort = () => fail(new InterruptedError(`interrupted while connecting to ${id}`))
    if (opts.signal?.aborted) {
      onAbort()
      return
    }

    opts.signal?.addEventListener('abort', onAbort, {once: true})

    const hostVerifier = (blob: Buffer, verify: (ok: boolean) => void): void => {
      const type = keyTypeOf(blob)
      const verdict = checkHostKey(entries, target.host, target.port, blob)
      if (verdict.status === 'known') return verify(true)
      if (verdict.status === 'revoked') {
        failure = new KpError('ssh', ExitCode.refused, `${id}: the host key ${fingerprint(blob)} is marked @revoked in ${verdict.entry.file}:${verdict.entry.line}; kp refuses to connect`)
        return verify(false)
      }

      if (verdict.status === 'changed') {
        const pinned = verdict.pinned.map((e) => ({file: e.file, fingerprint: fingerprint(Buffer.from(e.key, 'base64')), type: e.type}))
        failure = new HostKeyChangedError(target, type, fingerprint(blob), pinned)
        return verify(false)
      }

      const unknown = new HostKeyUnknownError(target, type, fingerprint(blob), options.knownHostsFile)
      const accept = () => {
        // Pinned only after the handshake proved the server holds the private key (see 'handshake').
        pendingPin = {key: blob.toString('base64'), type}
        verify(true)
      }

      const mode = options.newHostKeys ?? 'refuse'
      if (mode === 'accept') return accept()
      if (mode === 'ask' && options.confirm) {
        // The operator may take a while to compare fingerprints: the connect timeout waits too.
        clearTimeout(timer)
        const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`
        options
          .confirm(`The ${type} host key of ${name} is not known. Its fingerprint is ${fingerprint(blob)}. Trust it and pin it in ${options.knownHostsFile}?`)
          .then((yes) => {
            if (settled) return
            startTimer()
            if (yes) return accept()
            failure = unknown
            verify(false)
          }, (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))))
        return
      }

      failure = unknown
      verify(false)
    }

    client.on('handshake', () => {
      if (!pendingPin) return
      pinHostKey(options.knownHostsFile, target.host, pendingPin.type, pendingPin.key, target.port)
      pendingPin = undefined
    })
    client.on('ready', () => finish())
    client.on('error', (error: Error & {level?: string; code?: string}) => fail(failure ?? describeConnectError(error, id, credentials)))
    client.on('close', () => fail(failure ?? new SshConnectError(`${id}: the server closed the connection before login`, {hint: CONNECT_HINT})))

    startTimer()
    try {
      client.connect({
        algorithms: {serverHostKey: hostKeyAlgorithms(entries, target.host, target.port) as never},
        host: target.host,
        hostVerifier,
        keepaliveCountMax: 3,
        keepaliveInterval: options.keepaliveIntervalMs ?? 10_000,
        port: target.port,
        // Our own timer (above) instead of ssh2's, because it must pause while the operator answers.
        readyTimeout: 0,
        username: target.user,
        ...(opts.sock ? {sock: opts.sock} : {}),
        ...(credentials.agent ? {agent: credentials.agent} : {}),
        ...(credentials.privateKey ? {privateKey: credentials.privateKey} : {}),
        ...(credentials.passphrase ? {passphrase: credentials.passphrase} : {}),
      })
    } catch (error) {
      fail(describeConnectError(error as Error, id, credentials))
    }
  })
}

const CONNECT_HINT = 'Check that the VM is running ("kp vm list"), its address and ssh.port in kp.yaml, the network path (VLAN, firewall, ssh.jumpHost), and that sshd runs on it.'

function describeConnectError(error: Error & {level?: string; code?: string}, id: string, credentials: Credentials): KpError {
  if (error.level === 'client-authentication') {
    return new SshAuthError(`${id}: the server accepted none of kp's credentials (${credentials.offered.join(', ')})`, {
      cause: error,
      hint: 'Check ssh.user, and that the public key is in ~/.ssh/authorized_keys of that user on the node (cloud-init puts the VM\'s sshkeys there).',
    })
  }

  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused (nothing listens on that port: is sshd running, is the VM booted?)',
    ECONNRESET: 'connection reset by the server',
    EHOSTUNREACH: 'no route to the host',
    ENETUNREACH: 'the network is unreachable',
    ENOTFOUND: 'the host name does not resolve',
    ETIMEDOUT: 'the TCP connection timed out',
  }
  const reason = (error.code && reasons[error.code]) ?? error.message
  return new SshConnectError(`${id}: ${reason}`, {cause: error, hint: CONNECT_HINT})
}
