/**
 * The certificate a server presents now, read in a TLS handshake. kp compares it with the file on
 * disk itself (and checks its chain itself), so the handshake trusts nothing and sends no client
 * certificate: etcd, which requires one, still shows its own before it refuses us.
 */
import {connect} from 'node:tls'

import {InterruptedError, KpError} from '../errors.js'
import {parseCertificate, type CertificateInfo} from './x509.js'

export interface ServedOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

export class NotServingError extends KpError {
  constructor(message: string) {
    super('kubernetes', 1, message)
  }
}

export function servedCertificate(host: string, port: number, options: ServedOptions = {}): Promise<CertificateInfo> {
  const timeoutMs = options.timeoutMs ?? 5000
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`
  return new Promise((resolve, reject) => {
    const socket = connect({host, port, rejectUnauthorized: false})
    const done = (error?: Error, info?: CertificateInfo): void => {
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (error) reject(error)
      else resolve(info!)
    }

    const timer = setTimeout(() => done(new NotServingError(`${where}: no TLS handshake within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs)
    const onAbort = (): void => done(new InterruptedError(`interrupted during a TLS handshake with ${where}`))
    options.signal?.addEventListener('abort', onAbort, {once: true})
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate(false)?.raw
      if (!raw) return done(new NotServingError(`${where} presented no certificate`))
      try {
        done(undefined, parseCertificate(raw))
      } catch (error) {
        done(new NotServingError(`${where} presented a certificate kp cannot read: ${error instanceof Error ? error.message : String(error)}`))
      }
    })
    socket.once('error', (error: NodeJS.ErrnoException) => done(new NotServingError(`${where}: ${error.code === 'ECONNREFUSED' ? 'connection refused (nothing listens)' : error.message}`)))
  })
}
