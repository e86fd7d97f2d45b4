/**
 * The lab's client of the real etcd members its control planes run: etcd's v3 JSON gateway over
 * HTTPS (`POST /v3/cluster/member/list|add|remove`, `/v3/maintenance/status`, `GET /health`), with
 * a client certificate of the cluster's etcd CA — what kubeadm's own etcd client does for member
 * add and remove, and what the lab's API servers use to keep their objects. The gateway speaks
 * JSON with uint64 fields as decimal strings and bytes as base64.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {request} from 'node:https'
import path from 'node:path'

import {atomicDir} from '../fake-server.js'
import {issueCertificate, issuerFiles} from './pki.js'
import type {ClusterRecord} from './state.js'

export const ETCD_CLIENT_PORT = 2379
export const ETCD_PEER_PORT = 2380

/** PEM client credentials for a cluster's etcd: its etcd CA, a client certificate it signed, the key. */
export interface EtcdCredentials {
  ca: string
  cert: string
  key: string
}

export interface EtcdMember {
  /** uint64, as the gateway writes it (decimal). */
  ID: string
  /** Empty until the member has started (a member added but not yet joined). */
  name?: string
  peerURLs?: string[]
  clientURLs?: string[]
  isLearner?: boolean
}

export interface EtcdStatus {
  header?: {cluster_id?: string; member_id?: string; raft_term?: string; revision?: string}
  version?: string
  dbSize?: string
  leader?: string
  raftIndex?: string
  raftTerm?: string
  errors?: string[]
}

function urlHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip
}

export const etcdClientUrl = (ip: string) => `https://${urlHost(ip)}:${ETCD_CLIENT_PORT}`
export const etcdPeerUrl = (ip: string) => `https://${urlHost(ip)}:${ETCD_PEER_PORT}`

/** The client URLs of the cluster's etcd members: one per control plane (stacked etcd). */
export function etcdEndpoints(record: ClusterRecord): string[] {
  return record.members.filter((m) => m.role === 'control-plane').map((m) => etcdClientUrl(m.ip))
}

const credentialCache = new Map<string, EtcdCredentials>()

/**
 * Client credentials signed by the cluster's etcd CA, made once per cluster PKI folder
 * (`<lab>/kubeadm/<cluster>/pki`, ClusterStore.pkiDir) and kept there in `etcd-client/`. The
 * members run with --client-cert-auth, so nothing talks to them without one.
 */
export async function etcdClientCredentials(pkiDir: string): Promise<EtcdCredentials> {
  const cached = credentialCache.get(pkiDir)
  if (cached) return cached
  const dir = path.join(pkiDir, 'etcd-client')
  const ca = issuerFiles(pkiDir, 'etcd-ca')
  if (!existsSync(ca.cert)) throw new Error(`the cluster has no etcd CA in ${path.dirname(ca.cert)}`)
  await atomicDir(dir, async (work) => {
    // ECDSA: ten times faster to make than kubeadm's RSA, and only the lab uses it.
    const pair = await issueCertificate({cn: 'kp-lab-etcd-client', days: 3650, usages: ['clientAuth']}, ca, 'ECDSA-P256')
    writeFileSync(path.join(work, 'client.crt'), pair.certPem, {mode: 0o644})
    writeFileSync(path.join(work, 'client.key'), pair.keyPem, {mode: 0o600})
  })
  const credentials = {
    ca: readFileSync(ca.cert, 'utf8'),
    cert: readFileSync(path.join(dir, 'client.crt'), 'utf8'),
    key: readFileSync(path.join(dir, 'client.key'), 'utf8'),
  }
  credentialCache.set(pkiDir, credentials)
  return credentials
}

/** A new etcd CA (a cluster made again under the same name) must not meet the old credentials. */
export function forgetEtcdCredentials(pkiDir: string): void {
  credentialCache.delete(pkiDir)
}

export class EtcdError extends Error {
  constructor(readonly endpoint: string, message: string, readonly status?: number) {
    super(`etcd ${endpoint}: ${message}`)
  }
}

/** One call to a member: GET without a body, POST with JSON. */
export function etcdRequest<T>(endpoint: string, credentials: EtcdCredentials, urlPath: string, body?: unknown, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const url = new URL(urlPath, endpoint)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = request(url, {
      agent: false,
      ca: credentials.ca,
      cert: credentials.cert,
      headers: payload === undefined ? {} : {'content-type': 'application/json'},
      key: credentials.key,
      method: payload === undefined ? 'GET' : 'POST',
      timeout: timeoutMs,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown
        try {
          parsed = JSON.parse(text)
        } catch {
          reject(new EtcdError(endpoint, `answered ${res.statusCode ?? '?'} with something other than JSON: ${text.slice(0, 200)}`, res.statusCode))
          return
        }

        const error = (parsed as {error?: string; message?: string}).error ?? (parsed as {message?: string}).message
        if ((res.statusCode ?? 500) >= 400 && urlPath !== '/health') reject(new EtcdError(endpoint, error ?? `HTTP ${res.statusCode}`, res.statusCode))
        else resolve(parsed as T)
      })
    })
    req.on('timeout', () => req.destroy(new EtcdError(endpoint, `no answer within ${timeoutMs / 1000} s`)))
    req.on('error', (error) => reject(error instanceof EtcdError ? error : new EtcdError(endpoint, error.message)))
    req.end(payload)
  })
}

export async function memberList(endpoint: string, credentials: EtcdCredentials): Promise<EtcdMember[]> {
  return (await etcdRequest<{members?: EtcdMember[]}>(endpoint, credentials, '/v3/cluster/member/list', {})).members ?? []
}

export async function memberAdd(endpoint: string, credentials: EtcdCredentials, peerUrl: string): Promise<{member: EtcdMember; members: EtcdMember[]}> {
  const added = await etcdRequest<{member: EtcdMember; members?: EtcdMember[]}>(endpoint, credentials, '/v3/cluster/member/add', {peerURLs: [peerUrl]})
  return {member: added.member, members: added.members ?? []}
}

export async function memberRemove(endpoint: string, credentials: EtcdCredentials, id: string): Promise<void> {
  await etcdRequest(endpoint, credentials, '/v3/cluster/member/remove', {ID: id})
}

export function memberStatus(endpoint: string, credentials: EtcdCredentials, timeoutMs = 3000): Promise<EtcdStatus> {
  return etcdRequest<EtcdStatus>(endpoint, credentials, '/v3/maintenance/status', {}, timeoutMs)
}

/** etcd's /health: true only while the member is part of a cluster with a leader (a quorum). */
export async function memberHealthy(endpoint: string, credentials: EtcdCredentials, timeoutMs = 3000): Promise<boolean> {
  try {
    return (await etcdRequest<{health?: string}>(endpoint, credentials, '/health', undefined, timeoutMs)).health === 'true'
  } catch {
    return false
  }
}

/** Waits until the member answers healthy; false after the deadline. */
export async function waitHealthy(endpoint: string, credentials: EtcdCredentials, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await memberHealthy(endpoint, credentials, 2000)) return true
    await new Promise((resolve) => setTimeout(resolve, 250))
  }

  return false
}

/** The first endpoint whose call succeeds, as etcd's own client balances over its endpoints. */
export async function anyMember<T>(endpoints: readonly string[], call: (endpoint: string) => Promise<T>): Promise<T> {
  const errors: string[] = []
  for (const endpoint of endpoints) {
    try {
      return await call(endpoint)
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error))
    }
  }

  throw new Error(endpoints.length === 0 ? 'the cluster has no etcd member' : `no etcd member answered: ${errors.join('; ')}`)
}

export interface EtcdMemberState {
  clientURL: string
  /** Set when the member did not answer (down, or not part of a quorum). */
  error?: string
  healthy: boolean
  id?: string
  leader: boolean
  name: string
  peerURL: string
  dbSize?: number
  version?: string
  vmid: number
}

/** Every member of the cluster with its health and who leads, for `kp lab status`. */
export async function etcdClusterState(record: ClusterRecord, credentials: EtcdCredentials): Promise<{leader?: string; members: EtcdMemberState[]}> {
  const controlPlanes = record.members.filter((m) => m.role === 'control-plane')
  const results = await Promise.all(controlPlanes.map(async (m) => {
    const url = etcdClientUrl(m.ip)
    const [status, healthy] = await Promise.all([memberStatus(url, credentials).catch((error: unknown) => error as Error), memberHealthy(url, credentials)])
    return {m, status, healthy, url}
  }))
  const live = results.map((r) => r.status).filter((s): s is EtcdStatus => !(s instanceof Error))
  const leaderId = live.find((s) => s.leader && s.leader !== '0')?.leader
  const members = results.map(({m, status, healthy, url}): EtcdMemberState => {
    const ok = !(status instanceof Error)
    const id = ok ? status.header?.member_id : undefined
    return {
      clientURL: url,
      healthy,
      leader: id !== undefined && id === leaderId,
      name: m.name,
      peerURL: etcdPeerUrl(m.ip),
      vmid: m.vmid,
      ...(id ? {id} : {}),
      ...(ok && status.dbSize ? {dbSize: Number(status.dbSize)} : {}),
      ...(ok && status.version ? {version: status.version} : {}),
      ...(ok ? (healthy ? {} : {error: 'no quorum (no leader)'}) : {error: status.message}),
    }
  })
  const leader = members.find((m) => m.leader)?.name
  return {...(leader ? {leader} : {}), members}
}
