/**
 * What certs-rotate asks of a control plane, none of it through the laptop's admin kubeconfig: the
 * certificates on disk (one SSH command, certificates only), /readyz at the node's own API server
 * (public: no credentials sent), etcd's members through etcdctl on the node, the certificates its
 * API server and etcd member serve, and the static pods as crictl sees them.
 */
import {request} from 'node:https'

import {APISERVER_PORT, type CertificateInfo, ETCD_CLIENT_PORT, KUBEADM_CERTIFICATES, readCertificates, servedCertificate} from '../../certs/index.js'
import {errorMessage} from '../../errors.js'
import {etcdctlError, runEtcdctl} from '../../etcd/etcdctl.js'
import {addressOf, type Component, MANIFESTS, PARKED, type RotateUnit} from './facts.js'

/** A certificate as the journal keeps it (pre-state): enough to tell a renewed file from the old one. */
export interface CertState extends Record<string, unknown> {
  fingerprint256: string
  notAfter: string
  serialNumber: string
}

export const stateOf = (c: CertificateInfo): CertState => ({fingerprint256: c.fingerprint256, notAfter: c.notAfter.toISOString(), serialNumber: c.serialNumber})

/** kubeadm's certificates on the unit's node, by kubeadm's name; a missing file (super-admin.conf on a joined control plane) is left out. */
export async function readDisk(ctx: RotateUnit): Promise<Map<string, CertificateInfo>> {
  const session = await ctx.ssh(ctx.target!)
  const found = await readCertificates(session, KUBEADM_CERTIFICATES.map((c) => c.path), ctx.signal)
  const out = new Map<string, CertificateInfo>()
  for (const c of KUBEADM_CERTIFICATES) {
    const read = found.get(c.path)
    if (read && 'certificate' in read) out.set(c.name, read.certificate)
    else if (read && 'error' in read) ctx.log(`${ctx.target!}: ${c.path} ${read.error}`)
  }

  return out
}

/** GET /readyz at one API server without credentials (an expired admin kubeconfig must not matter); problems, empty when ok. */
export function readyzProblems(host: string, signal: AbortSignal, timeoutMs = 5000): Promise<string[]> {
  const where = `${host}:${APISERVER_PORT}`
  return new Promise((resolve) => {
    // Its certificate is compared with the file on disk elsewhere; nothing secret is sent here.
    const req = request({agent: false, host, method: 'GET', path: '/readyz?verbose', port: APISERVER_PORT, rejectUnauthorized: false, signal, timeout: timeoutMs}, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (d: string) => (body += d))
      res.on('end', () => {
        if (res.statusCode === 200) return resolve([])
        const failed = body.split('\n').filter((l) => l.startsWith('[-]')).map((l) => l.slice(3).split(' ')[0])
        resolve([`the API server at ${where} is not ready (/readyz ${res.statusCode ?? '?'}${failed.length > 0 ? `: ${failed.join(', ')} failed` : ''})`])
      })
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(timeoutMs / 1000)}s`)))
    req.on('error', (error: NodeJS.ErrnoException) => resolve([`the API server at ${where} does not answer (${error.code === 'ECONNREFUSED' ? 'connection refused' : error.message})`]))
    req.end()
  })
}

const QUICK = ['--dial-timeout=3s', '--command-timeout=5s']

/** etcdctl endpoint health on `node` (--cluster: every member); problems, empty when all are healthy. */
export async function etcdProblems(ctx: RotateUnit, node: string, cluster = true): Promise<string[]> {
  const session = await ctx.ssh(node)
  const result = await runEtcdctl(session, [...QUICK, 'endpoint', 'health', ...(cluster ? ['--cluster'] : []), '-w', 'json'], {idempotent: true, signal: ctx.signal, timeoutMs: 30_000})
  if (result.noContainer) return [`etcd is not running on ${node} (crictl ps --name etcd)`]
  let entries: Array<{endpoint?: string; error?: string; health?: boolean}>
  try {
    entries = JSON.parse(result.stdout) as typeof entries
    if (!Array.isArray(entries) || entries.length === 0) throw new Error('no endpoint')
  } catch {
    return [`etcdctl endpoint health on ${node} failed: ${etcdctlError(result)}`]
  }

  return entries.filter((e) => e.health !== true).map((e) => `etcd member ${e.endpoint ?? '?'} is unhealthy${e.error ? ` (${e.error})` : ''}`)
}

/** /readyz at this node's API server and every etcd member healthy, as seen from this node. */
export async function nodeProblems(ctx: RotateUnit): Promise<string[]> {
  const node = ctx.target!
  const [api, etcd] = await Promise.all([readyzProblems(addressOf(ctx, node), ctx.signal), etcdProblems(ctx, node).catch((error: unknown) => [`etcdctl on ${node}: ${errorMessage(error)}`])])
  return [...api, ...etcd]
}

/** The certificates this node's API server and etcd member present now (undefined when one does not answer, with why). */
export async function servedNow(ctx: RotateUnit): Promise<{apiserver?: CertificateInfo; etcd?: CertificateInfo; problems: string[]}> {
  const host = addressOf(ctx, ctx.target!)
  const problems: string[] = []
  const read = (port: number) =>
    servedCertificate(host, port, {signal: ctx.signal}).catch((error: unknown) => {
      problems.push(errorMessage(error))
      return undefined
    })
  const [apiserver, etcd] = await Promise.all([read(APISERVER_PORT), read(ETCD_CLIENT_PORT)])
  return {apiserver, etcd, problems}
}

/** One component's static pod on the node: where its manifest is, and since when (ns) its container runs. */
export interface PodState {
  /** In /etc/kubernetes/manifests: the kubelet runs it. */
  manifest: boolean
  /** In kp's folder: an earlier attempt moved it out and was stopped before moving it back. */
  parked: boolean
  /** The newest running container's creation time (ns since the epoch), none when none runs. */
  runningSince?: bigint
}

const STATE_SCRIPT = `c=$1
[ -e "${MANIFESTS}/$c.yaml" ] && echo manifest
[ -e "${PARKED}/$c.yaml" ] && echo parked
crictl ps --name "^$c\\$" --state Running -o json`

export async function podState(ctx: RotateUnit, component: Component): Promise<PodState> {
  const session = await ctx.ssh(ctx.target!)
  const {stdout} = await session.exec(['sh', '-c', STATE_SCRIPT, 'kp-pod', component], {idempotent: true, signal: ctx.signal, sudo: true})
  const brace = stdout.indexOf('{')
  const flags = stdout.slice(0, brace === -1 ? undefined : brace).split('\n')
  const containers = brace === -1 ? [] : ((JSON.parse(stdout.slice(brace)) as {containers?: Array<{createdAt?: string}>}).containers ?? [])
  const times = containers.map((c) => BigInt(c.createdAt ?? '0'))
  return {
    manifest: flags.includes('manifest'),
    parked: flags.includes('parked'),
    runningSince: times.length > 0 ? times.reduce((a, b) => (a > b ? a : b)) : undefined,
  }
}
