/**
 * The SSH adapter (DESIGN.md §7): a pool with one connection per host per run, channels
 * multiplexed on it, an optional jump host shared by all targets. ssh2 is loaded on the first
 * connection, never at import time, so `kp --help` stays light.
 */
import type {Duplex} from 'node:stream'

import type {Client} from 'ssh2'

import {errorMessage} from '../errors.js'
import {connect, type ConnectContext} from './connect.js'
import {loadCredentials} from './credentials.js'
import {SshConnectError, where} from './errors.js'
import {loadSsh2} from './load.js'
import {Session} from './session.js'
import type {SshPool, SshPoolOptions, SshTarget} from './types.js'

export type * from './types.js'
export * from './errors.js'
export {shellQuote} from './quote.js'

export const DEFAULTS = {commandTimeoutMs: 10 * 60_000, connectTimeoutMs: 15_000, keepaliveIntervalMs: 10_000}

export function createSshPool(options: SshPoolOptions): SshPool {
  const counts = new Map<string, number>()
  const sessions = new Map<string, Promise<Session>>()
  const connectTimeoutMs = options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs
  let context: Promise<ConnectContext> | undefined
  let jump: Promise<Client> | undefined

  // Credentials are resolved once per pool: an encrypted key's passphrase is asked once per run.
  const getContext = () =>
    (context ??= loadSsh2().then(async (ssh2) => ({credentials: await loadCredentials(ssh2, options), options: {...options, keepaliveIntervalMs: options.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs}, ssh2})).catch((error: unknown) => {
      context = undefined
      throw error
    }))

  const open = async (target: Pick<SshTarget, 'host' | 'port' | 'user'>, timeoutMs = connectTimeoutMs, sock?: Duplex) => {
    const ctx = await getContext()
    counts.set(target.host, (counts.get(target.host) ?? 0) + 1)
    return connect(ctx, target, {signal: options.signal, sock, timeoutMs})
  }

  const jumpClient = () => {
    jump ??= open(options.jumpHost!).then(
      (client) => {
        client.on('close', () => (jump = undefined))
        return client
      },
      (error: unknown) => {
        jump = undefined
        throw error
      },
    )
    return jump
  }

  const openTarget = async (target: SshTarget, timeoutMs?: number): Promise<Client> => {
    if (!options.jumpHost) return open(target, timeoutMs)
    const via = await jumpClient()
    // Like ssh -J: the jump host opens the TCP connection, the SSH session runs end to end.
    const sock = await new Promise<Duplex>((resolve, reject) => {
      via.forwardOut('127.0.0.1', 0, target.host, target.port, (error, stream) => {
        if (error) reject(new SshConnectError(`jump host ${where(options.jumpHost!)} cannot reach ${target.host}:${target.port}: ${errorMessage(error)}`, {cause: error, hint: 'Check that the jump host can reach the node network, and that the node is running ("kp vm list").'}))
        else resolve(stream)
      })
    })
    return open(target, timeoutMs, sock)
  }

  const sessionContext = {
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULTS.commandTimeoutMs,
    connect: openTarget,
    connectTimeoutMs,
    log: options.log,
    signal: options.signal,
  }

  return {
    async closeAll() {
      const all = [...sessions.values()]
      sessions.clear()
      await Promise.all(all.map((s) => s.then((session) => session.close(), () => undefined)))
      const j = jump
      jump = undefined
      if (j) await j.then((client) => client.end(), () => undefined)
    },

    connections: (host) => counts.get(host) ?? 0,

    session(target) {
      const key = `${where(target)}`
      let session = sessions.get(key)
      if (!session) {
        session = openTarget(target).then((client) => new Session(target, sessionContext, client))
        // A failed connection is not cached: a later call (after a fix, a retry) tries again.
        session.catch(() => sessions.delete(key))
        sessions.set(key, session)
      }

      return session
    },
  }
}
