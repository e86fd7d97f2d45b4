/**
 * What the lab remembers of a kubeadm cluster, in `<lab>/kubeadm/<cluster>/cluster.json` (0600):
 * its settings, its members (VM, node name, role) and the fingerprints of its secrets. Bootstrap
 * tokens and certificate keys are never stored: only the token id, the SHA-256 of its secret and
 * its expiry, and the SHA-256 of the current certificate key and its expiry (two hours, like the
 * kubeadm-certs Secret). A join proves it holds the secret by hashing what its config file says.
 */
import {createHash, timingSafeEqual} from 'node:crypto'
import {existsSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import path from 'node:path'

import {writeFileAtomicSync} from '../../atomic-write.js'

import type {LabClusterSpec} from './node-files.js'

export interface ClusterMember {
  ip: string
  name: string
  role: 'control-plane' | 'worker'
  vmid: number
}

export interface StoredToken {
  description?: string
  /** ISO time, absent for a token that never expires (ttl 0). */
  expires?: string
  groups: string[]
  id: string
  /** SHA-256 (hex) of the token's secret part. */
  secretSha256: string
  usages: string[]
}

export interface ClusterRecord {
  /** The admin client certificate's lifetime and the other certificates' (kp lab up --cert-days). */
  certDays: number
  /** SHA-256 (hex) of the certificate key kubeadm-certs is encrypted with, and when it goes. */
  certificateKey?: {expires: string; sha256: string}
  /** ClusterConfiguration.encryptionAlgorithm, for the certificates of joining control planes. */
  encryptionAlgorithm?: string
  /** The endpoint as `host:port`. */
  endpoint: string
  /** VMID of the control plane that ran kubeadm init. */
  initVmid: number
  /** The configuration documents kubeadm stores in kubeadm-config (ClusterConfiguration). */
  clusterConfiguration: Record<string, unknown>
  members: ClusterMember[]
  name: string
  spec: LabClusterSpec
  tokens: StoredToken[]
}

export const CERTIFICATE_KEY_TTL_MS = 2 * 60 * 60 * 1000

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex')
  const y = Buffer.from(b, 'hex')
  return x.length === y.length && timingSafeEqual(x, y)
}

/** A token as kubeadm's join sees it: unknown (or expired) id, wrong secret, or good. */
export function checkToken(record: ClusterRecord, token: string, now = Date.now()): 'bad-secret' | 'ok' | 'unknown' {
  const [id = '', secret = ''] = token.split('.')
  const stored = record.tokens.find((t) => t.id === id && (t.expires === undefined || Date.parse(t.expires) > now))
  if (!stored) return 'unknown'
  return sameHex(stored.secretSha256, sha256(secret)) ? 'ok' : 'bad-secret'
}

/** The certificate key kubeadm-certs holds: missing (never uploaded, or expired), wrong, or good. */
export function checkCertificateKey(record: ClusterRecord, key: string, now = Date.now()): 'expired' | 'ok' | 'wrong' {
  const stored = record.certificateKey
  if (!stored || Date.parse(stored.expires) <= now) return 'expired'
  return sameHex(stored.sha256, sha256(key.toLowerCase())) ? 'ok' : 'wrong'
}

export function rememberToken(record: ClusterRecord, token: string, options: {description?: string; groups?: string[]; ttlMs?: number; usages?: string[]}, now = Date.now()): StoredToken {
  const [id = '', secret = ''] = token.split('.')
  const stored: StoredToken = {
    ...(options.description ? {description: options.description} : {}),
    ...(options.ttlMs ? {expires: new Date(now + options.ttlMs).toISOString()} : {}),
    groups: options.groups ?? ['system:bootstrappers:kubeadm:default-node-token'],
    id,
    secretSha256: sha256(secret),
    usages: options.usages ?? ['signing', 'authentication'],
  }
  record.tokens = [...record.tokens.filter((t) => t.id !== id), stored]
  return stored
}

export function rememberCertificateKey(record: ClusterRecord, key: string, now = Date.now()): void {
  record.certificateKey = {expires: new Date(now + CERTIFICATE_KEY_TTL_MS).toISOString(), sha256: sha256(key.toLowerCase())}
}

/** The folders of one lab's kubeadm clusters. */
export class ClusterStore {
  constructor(readonly root: string) {}

  dir(name: string): string {
    return path.join(this.root, name)
  }

  pkiDir(name: string): string {
    return path.join(this.dir(name), 'pki')
  }

  kubeStateFile(name: string): string {
    return path.join(this.dir(name), 'kube', 'state.json')
  }

  load(name: string): ClusterRecord | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir(name), 'cluster.json'), 'utf8')) as ClusterRecord
    } catch {
      return undefined
    }
  }

  save(record: ClusterRecord): void {
    const dir = this.dir(record.name)
    writeFileAtomicSync(path.join(dir, 'cluster.json'), `${JSON.stringify(record, null, 2)}\n`, {dirMode: 0o700, flush: false, mode: 0o600})
  }

  /** Forget a cluster entirely (its CA, API state and record): a new init starts from scratch. */
  remove(name: string): void {
    rmSync(this.dir(name), {force: true, recursive: true})
  }

  names(): string[] {
    if (!existsSync(this.root)) return []
    return readdirSync(this.root).filter((n) => existsSync(path.join(this.root, n, 'cluster.json')))
  }
}
