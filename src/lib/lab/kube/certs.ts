/**
 * The cluster PKI of the lab's API server, made with the `openssl` CLI as kubeadm lays it out: a CA
 * (`ca.crt`, `ca.key`, CN `kubernetes`), the serving certificate (`apiserver.crt`, CN `kube-apiserver`,
 * SANs for 127.0.0.1, localhost, the `kubernetes.default…` names and any extra ones) and client
 * certificates whose CN is the user and whose O entries are the groups, as the real server reads them.
 * Everything is cached in a folder so a restarted server keeps its identity and old kubeconfigs work.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {isIP} from 'node:net'
import path from 'node:path'

import {atomicDir} from '../fake-server.js'
import {promisify} from 'node:util'

const run = promisify(execFile)

export interface KeyPair {
  certPem: string
  keyPem: string
}

export interface ClusterPki {
  /** The CA; its key signs client certificates on demand. */
  ca: KeyPair
  /** `kubernetes-admin` in `kubeadm:cluster-admins` and `system:masters`. */
  admin: KeyPair
  dir: string
  server: KeyPair
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256']

export const ADMIN_USER = 'kubernetes-admin'
export const ADMIN_GROUPS = ['kubeadm:cluster-admins', 'system:masters']

function read(dir: string, base: string): KeyPair {
  return {certPem: readFileSync(path.join(dir, `${base}.crt`), 'utf8'), keyPem: readFileSync(path.join(dir, `${base}.key`), 'utf8')}
}

/** `/O=g1/O=g2/CN=user`; '/' and '\' in names are escaped for openssl's -subj. */
export function subject(cn: string, groups: readonly string[]): string {
  const esc = (s: string) => s.replace(/[\\/]/g, (c) => `\\${c}`)
  return [...groups.map((g) => `/O=${esc(g)}`), `/CN=${esc(cn)}`].join('')
}

async function signed(dir: string, base: string, ca: string, subj: string, ext: string[], days: number): Promise<void> {
  const file = (name: string) => path.join(dir, name)
  await run('openssl', ['req', ...KEY_ARGS, '-keyout', file(`${base}.key`), '-out', file(`${base}.csr`), '-subj', subj])
  writeFileSync(file(`${base}.ext`), `${ext.join('\n')}\n`)
  await run('openssl', [
    'x509', '-req', '-sha256', '-days', String(days), '-in', file(`${base}.csr`),
    '-CA', path.join(ca, 'ca.crt'), '-CAkey', path.join(ca, 'ca.key'), '-CAcreateserial',
    '-out', file(`${base}.crt`), '-extfile', file(`${base}.ext`),
  ])
  rmSync(file(`${base}.csr`), {force: true})
  rmSync(file(`${base}.ext`), {force: true})
}

/** Run `make` in a private folder and rename it to `target`; a concurrent winner's folder is kept. */
function serverSans(extra: readonly string[]): string[] {
  const names = ['127.0.0.1', '::1', 'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', ...extra]
  return [...new Set(names)]
}

export interface PkiOptions {
  /** Lifetime of the serving certificate; 365 days by default. */
  servingDays?: number
}

/**
 * Load the PKI from `dir`, or make it. The serving certificate is per SAN set and lifetime
 * (`server-<hash>/`); like a real one it ages, so a short-lived one cached here expires for real.
 */
export async function ensurePki(dir: string, extraSans: readonly string[] = [], options: PkiOptions = {}): Promise<ClusterPki> {
  const caDir = path.join(dir, 'ca')
  await atomicDir(caDir, async (work) => {
    await run('openssl', [
      'req', '-x509', ...KEY_ARGS, '-days', '3650', '-keyout', path.join(work, 'ca.key'), '-out', path.join(work, 'ca.crt'),
      '-subj', '/CN=kubernetes', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign',
    ])
    await signed(work, 'admin', work, subject(ADMIN_USER, ADMIN_GROUPS), ['keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'], 365)
  })
  const sans = serverSans(extraSans)
  const days = options.servingDays ?? 365
  // The default lifetime keeps the key it always had, so existing PKI folders stay valid.
  const key = days === 365 ? sans.join(',') : `${sans.join(',')};days=${days}`
  const serverDir = path.join(dir, `server-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`)
  await atomicDir(serverDir, async (work) => {
    const alt = sans.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
    await signed(work, 'apiserver', caDir, '/CN=kube-apiserver', ['keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=serverAuth', `subjectAltName=${alt}`], days)
  })
  return {admin: read(caDir, 'admin'), ca: read(caDir, 'ca'), dir, server: read(serverDir, 'apiserver')}
}

/** A client certificate signed by the cluster CA: CN is the user, each group an O entry. */
export async function issueClientCertificate(pki: ClusterPki, user: string, groups: readonly string[] = [], days = 365): Promise<KeyPair> {
  const work = mkdtempSync(path.join(pki.dir, '.client-'))
  try {
    await signed(work, 'client', path.join(pki.dir, 'ca'), subject(user, groups), ['keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth'], days)
    return read(work, 'client')
  } finally {
    rmSync(work, {force: true, recursive: true})
  }
}
