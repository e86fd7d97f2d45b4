/**
 * How kp trusts a Proxmox host: a pinned SHA-256 fingerprint of its certificate (Proxmox certificates
 * are self-signed by a per-cluster CA, so pinning is the usual way), a CA file, the system CAs, or —
 * only when asked for explicitly — nothing. Never process-wide: NODE_TLS_REJECT_UNAUTHORIZED stays
 * untouched, the rules live in one undici Agent used only by the Proxmox adapter.
 */
import {readFileSync} from 'node:fs'
import type {Socket} from 'node:net'
import {TLSSocket} from 'node:tls'

import {Agent, buildConnector} from 'undici'

import {ConfigError} from '../errors.js'
import {ProxmoxError} from './errors.js'

export interface TrustOptions {
  caFile?: string
  fingerprint?: string
  insecureSkipTlsVerify?: boolean
}

/** `ab:cd…`, `ABCD…` or `AB:CD:…` → `AB:CD:…`, the form `pvenode cert info` and Node print. */
export function normalizeFingerprint(value: string): string {
  const hex = value.replace(/[^0-9a-f]/gi, '').toUpperCase()
  if (hex.length !== 64) throw new ConfigError(`proxmox.fingerprint must be a SHA-256 fingerprint (64 hex digits, AB:CD:…), got ${JSON.stringify(value)}`)
  return hex.match(/../g)?.join(':') ?? hex
}

export function fingerprintMismatch(endpoint: string, actual: string, pinned: string): ProxmoxError {
  return new ProxmoxError(`TLS certificate of ${endpoint} has SHA-256 fingerprint ${actual}, but kp.yaml pins ${pinned} (proxmox.fingerprint); refusing to connect`, {
    hint:
      'if the host certificate was renewed on purpose, read the new fingerprint on the host with `pvenode cert info` ' +
      '(the pveproxy-ssl.pem entry if present, else pve-ssl.pem) and update proxmox.fingerprint; otherwise something between kp and the host presents another certificate',
  })
}

/**
 * Accept exactly the pinned leaf certificate. The chain is not checked (a Proxmox node certificate is
 * signed by its cluster's own CA), which is why the pin has to be compared on every new connection —
 * and why TLS session caching is off: a resumed session would skip this look at the certificate.
 */
function pinningConnector(endpoint: string, pinned: string, ca: Buffer | undefined): buildConnector.connector {
  const base = buildConnector({ca, maxCachedSessions: 0, rejectUnauthorized: ca !== undefined})
  return (options, callback) => {
    base(options, (error, socket) => {
      if (error !== null) return callback(error, null)
      // This runs in a socket event handler: a throw here would escape every try/catch and kill kp
      // mid-run (lock kept, journal "running"). Whatever goes wrong becomes the request's error.
      let refusal: Error | undefined
      try {
        refusal = pinRefusal(endpoint, socket, pinned)
      } catch (thrown) {
        refusal = thrown instanceof Error ? thrown : new Error(String(thrown))
      }

      if (refusal === undefined) return callback(null, socket)
      socket.destroy()
      callback(refusal, null)
    })
  }
}

/** Why this connection is not the pinned host, if it is not; a plain TCP socket has no certificate to pin. */
function pinRefusal(endpoint: string, socket: Socket | TLSSocket, pinned: string): ProxmoxError | undefined {
  if (!(socket instanceof TLSSocket)) {
    return new ProxmoxError(`the connection to ${endpoint} is not TLS, so there is no certificate to check against proxmox.fingerprint; refusing to send the token`, {
      hint: 'proxmox.endpoint must be the https address of the Proxmox API (https://HOST:8006)',
    })
  }

  const actual = socket.getPeerCertificate().fingerprint256 ?? '(none)'
  return actual.toUpperCase() === pinned ? undefined : fingerprintMismatch(endpoint, actual, pinned)
}

function readCa(caFile: string): Buffer {
  try {
    return readFileSync(caFile)
  } catch (error) {
    throw new ConfigError(`cannot read proxmox.caFile ${caFile}: ${(error as Error).message}`)
  }
}

/** The Agent that carries every request to this host, with the trust rules in its connector. */
export function trustingAgent(endpoint: string, trust: TrustOptions, warn: (line: string) => void): Agent {
  const ca = trust.caFile === undefined ? undefined : readCa(trust.caFile)
  if (trust.fingerprint !== undefined) {
    return new Agent({connect: pinningConnector(endpoint, normalizeFingerprint(trust.fingerprint), ca)})
  }

  if (ca !== undefined) return new Agent({connect: {ca, rejectUnauthorized: true}})
  if (trust.insecureSkipTlsVerify) {
    warn(`TLS verification of ${endpoint} is OFF (proxmox.insecureSkipTlsVerify): anyone on the path can read the API token; pin proxmox.fingerprint instead (\`pvenode cert info\` on the host)`)
    return new Agent({connect: {rejectUnauthorized: false}})
  }

  return new Agent()
}

const CERT_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
])

/** A certificate the trust rules refused: retrying cannot help, the configuration must change. */
export function certificateError(endpoint: string, cause: unknown): ProxmoxError | undefined {
  const code = (cause as {code?: unknown} | undefined)?.code
  if (typeof code !== 'string' || !CERT_ERROR_CODES.has(code)) return undefined
  return new ProxmoxError(`TLS certificate of ${endpoint} is not trusted: ${code} (${(cause as Error).message})`, {
    cause,
    hint: 'Proxmox certificates are usually self-signed: pin proxmox.fingerprint (`pvenode cert info` on the host prints it) or set proxmox.caFile to the cluster CA (/etc/pve/pve-root-ca.pem)',
  })
}
