/**
 * `kubeadm certs check-expiration` and `kubeadm certs renew all|NAME` over a node's real files
 * (a VM's root, or any folder laid out like one). The names, the order, the text table and the
 * JSON are kubeadm's (renewal.Manager, check-expiration's tabwriter, output.kubeadm.k8s.io/v1alpha3).
 *
 * A renewal keeps the key (only the public key is needed), the subject, the SANs and the usages, is signed again by the node's own
 * CA files (/etc/kubernetes/pki/ca.key and friends, as kubeadm reads them), and gets a new serial and
 * kubeadm's default certificateValidityPeriod of a year — not the lab's initial --cert-days. Every
 * file is replaced by a rename, so a reader never sees half a certificate.
 */
import {execFile} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {chownSync, closeSync, constants, fsyncSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

import {parse, stringify} from 'yaml'

import {subject} from '../kube/certs.js'
import {DEFAULT_CERT_DAYS} from './pki.js'
import {readVmFile, resolveInRoot, vmPathExists} from './vm-files.js'

const PKI = '/etc/kubernetes/pki'
const run = promisify(execFile)

export type CaName = 'ca' | 'etcd-ca' | 'front-proxy-ca'

export interface CertificateHandler {
  /** kubeadm's name: `apiserver`, `admin.conf`… */
  name: string
  /** What `renew` prints: "certificate for serving the Kubernetes API". */
  longName: string
  ca: CaName
  /** A PEM pair under pki (base path without .crt/.key), or a kubeconfig with an embedded client certificate. */
  file: {kubeconfig: string} | {pki: string}
}

/** The CAs' files (base paths without .crt/.key), in kubeadm's order. */
export const CAS: ReadonlyArray<{name: CaName; base: string}> = [
  {base: `${PKI}/ca`, name: 'ca'},
  {base: `${PKI}/etcd/ca`, name: 'etcd-ca'},
  {base: `${PKI}/front-proxy-ca`, name: 'front-proxy-ca'},
]

const conf = (name: string, who: string): CertificateHandler => ({ca: 'ca', file: {kubeconfig: `/etc/kubernetes/${name}`}, longName: `certificate embedded in the kubeconfig file for ${who}`, name})
const pair = (name: string, base: string, ca: CaName, longName: string): CertificateHandler => ({ca, file: {pki: `${PKI}/${base}`}, longName, name})

/** renewal.Manager's certificates, sorted by name as it lists them. */
export const CERTIFICATES: readonly CertificateHandler[] = [
  conf('admin.conf', 'the admin to use and for kubeadm itself'),
  pair('apiserver', 'apiserver', 'ca', 'certificate for serving the Kubernetes API'),
  pair('apiserver-etcd-client', 'apiserver-etcd-client', 'etcd-ca', 'certificate the apiserver uses to access etcd'),
  pair('apiserver-kubelet-client', 'apiserver-kubelet-client', 'ca', 'certificate for the API server to connect to kubelet'),
  conf('controller-manager.conf', 'the controller manager to use'),
  pair('etcd-healthcheck-client', 'etcd/healthcheck-client', 'etcd-ca', 'certificate for liveness probes to healthcheck etcd'),
  pair('etcd-peer', 'etcd/peer', 'etcd-ca', 'certificate for etcd nodes to communicate with each other'),
  pair('etcd-server', 'etcd/server', 'etcd-ca', 'certificate for serving etcd'),
  pair('front-proxy-client', 'front-proxy-client', 'front-proxy-ca', 'certificate for the front proxy client'),
  conf('scheduler.conf', 'the scheduler manager to use'),
  conf('super-admin.conf', 'the super-admin'),
]

export const DONE_RENEWING = 'Done renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates.'

export interface ExpirationEntry {
  name: string
  /** Undefined when missing. */
  notAfter?: Date
  caName?: CaName
  externallyManaged: boolean
  missing: boolean
}

const caBase = (name: CaName) => CAS.find((c) => c.name === name)!.base

type Kubeconfig = {users?: Array<{user?: Record<string, unknown>}>}

function kubeconfigCert(text: string): string | undefined {
  const data = (parse(text) as Kubeconfig | null)?.users?.[0]?.user?.['client-certificate-data']
  return typeof data === 'string' ? Buffer.from(data, 'base64').toString('utf8') : undefined
}

/** The certificate of a handler on the node, or undefined when it is not there. */
export function readHandlerCert(root: string, handler: CertificateHandler): string | undefined {
  if ('pki' in handler.file) return readVmFile(root, `${handler.file.pki}.crt`)
  const text = readVmFile(root, handler.file.kubeconfig)
  return text === undefined ? undefined : kubeconfigCert(text)
}

// kubeadm calls a certificate externally managed when its CA's key is not on the node.
const external = (root: string, ca: CaName) => !vmPathExists(root, `${caBase(ca)}.key`)

/** What check-expiration reports for every certificate and CA of a node. */
export function expirationInfo(root: string): {certificates: ExpirationEntry[]; authorities: ExpirationEntry[]} {
  const entry = (name: string, pem: string | undefined, caName: CaName | undefined, externallyManaged: boolean): ExpirationEntry =>
    pem === undefined
      ? {caName, externallyManaged: false, missing: true, name}
      : {caName, externallyManaged, missing: false, name, notAfter: new Date(new X509Certificate(pem).validTo)}
  return {
    authorities: CAS.map((c) => entry(c.name, readVmFile(root, `${c.base}.crt`), undefined, external(root, c.name))),
    certificates: CERTIFICATES.map((h) => entry(h.name, readHandlerCert(root, h), h.ca, external(root, h.ca))),
  }
}

/** apimachinery's duration.ShortHumanDuration. */
export function shortHumanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 60) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 24) return `${hours}h`
  if (hours < 24 * 365) return `${Math.trunc(hours / 24)}d`
  return `${Math.trunc(hours / 24 / 365)}y`
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number) => String(n).padStart(2, '0')

/** Go's "Jan 02, 2006 15:04 MST" in UTC. */
export function kubeadmDate(d: Date): string {
  return `${MONTHS[d.getUTCMonth()]} ${two(d.getUTCDate())}, ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())} UTC`
}

/** text/tabwriter with kubeadm's settings (minwidth 10, padding 3, spaces): every cell but a line's last padded to its column. */
function tabwrite(rows: readonly string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.slice(0, -1).forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 10, cell.length + 3)))
  return rows.map((row) => `${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i]!) : cell)).join('')}\n`).join('')
}

const yesNo = (b: boolean) => (b ? 'yes' : 'no').padEnd(8)

/** check-expiration's two tables. */
export function expirationText(info: ReturnType<typeof expirationInfo>, now = Date.now()): string {
  const residual = (e: ExpirationEntry) => shortHumanDuration(e.notAfter!.getTime() - now)
  const certs = [
    ['CERTIFICATE', 'EXPIRES', 'RESIDUAL TIME', 'CERTIFICATE AUTHORITY', 'EXTERNALLY MANAGED'],
    ...info.certificates.map((e) => (e.missing ? [`!MISSING! ${e.name}`, '', '', '', ''] : [e.name, kubeadmDate(e.notAfter!), residual(e), e.caName!, yesNo(e.externallyManaged)])),
  ]
  const cas = [
    ['CERTIFICATE AUTHORITY', 'EXPIRES', 'RESIDUAL TIME', 'EXTERNALLY MANAGED'],
    ...info.authorities.map((e) => (e.missing ? [`!MISSING! ${e.name}`, '', '', ''] : [e.name, kubeadmDate(e.notAfter!), residual(e), yesNo(e.externallyManaged)])),
  ]
  return `${tabwrite(certs)}\n${tabwrite(cas)}`
}

/** Go's RFC 3339 for a metav1.Time: whole seconds, UTC. */
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z')

/** check-expiration -o json: output.kubeadm.k8s.io/v1alpha3 CertificateExpirationInfo, as cli-runtime's JSON printer indents it. */
export function expirationJson(info: ReturnType<typeof expirationInfo>, now = Date.now()): string {
  const item = (e: ExpirationEntry) => ({
    name: e.name,
    // A zero metav1.Time marshals as null.
    expirationDate: e.notAfter ? rfc3339(e.notAfter) : null,
    residualTime: e.notAfter ? Math.trunc((e.notAfter.getTime() - now) / 1000) : 0,
    externallyManaged: e.externallyManaged,
    ...(e.caName ? {caName: e.caName} : {}),
    missing: e.missing,
  })
  const doc = {
    kind: 'CertificateExpirationInfo',
    apiVersion: 'output.kubeadm.k8s.io/v1alpha3',
    certificates: info.certificates.map(item),
    certificateAuthorities: info.authorities.map(item),
  }
  return `${JSON.stringify(doc, null, 4)}\n`
}

const USAGE_NAMES: Record<string, 'clientAuth' | 'serverAuth'> = {'1.3.6.1.5.5.7.3.1': 'serverAuth', '1.3.6.1.5.5.7.3.2': 'clientAuth'}

/** Subject (CN, O in order), SANs and usages of a certificate, for openssl's -subj and -addext. */
export function certificateShape(pem: string): {cn: string; o: string[]; sans: string[]; usages: Array<'clientAuth' | 'serverAuth'>} {
  const cert = new X509Certificate(pem)
  const rdns = cert.subject.split('\n')
  const values = (key: string) => rdns.filter((r) => r.startsWith(`${key}=`)).map((r) => r.slice(key.length + 1))
  const sans = (cert.subjectAltName ?? '').split(', ').filter(Boolean).map((s) => s.replace(/^(DNS|IP Address):/, ''))
  const usages = (cert.keyUsage ?? []).map((oid) => USAGE_NAMES[oid]).filter((u) => u !== undefined)
  return {cn: values('CN')[0] ?? '', o: values('O'), sans, usages}
}

function sanArg(sans: readonly string[]): string {
  for (const name of sans) if (!/^[\w.:*-]+$/.test(name)) throw new Error(`not a valid subject alternative name: ${JSON.stringify(name)}`)
  return sans.map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`)).join(',')
}

/**
 * The same public key, subject, SANs and usages, signed again by the CA at `ca` (host paths), valid
 * for `days` from now: `openssl x509 -new -force_pubkey`, so the private key is never needed (only
 * the public key and the extensions go through a private temporary folder; the CA key is read by
 * openssl from the node's own file).
 */
export async function resignCertificate(certPem: string, ca: {cert: string; key: string}, days: number): Promise<string> {
  const shape = certificateShape(certPem)
  const ext = [
    'basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment',
    ...(shape.usages.length > 0 ? [`extendedKeyUsage=${shape.usages.join(',')}`] : []),
    ...(shape.sans.length > 0 ? [`subjectAltName=${sanArg(shape.sans)}`] : []),
    'authorityKeyIdentifier=keyid',
  ]
  const work = mkdtempSync(path.join(tmpdir(), 'kp-lab-renew-'))
  try {
    const pub = path.join(work, 'pub.pem')
    const extFile = path.join(work, 'ext')
    writeFileSync(pub, new X509Certificate(certPem).publicKey.export({format: 'pem', type: 'spki'}))
    writeFileSync(extFile, `${ext.join('\n')}\n`)
    const {stdout} = await run('openssl', [
      'x509', '-new', '-force_pubkey', pub, '-subj', subject(shape.cn, shape.o), '-sha256', '-days', String(days),
      '-CA', ca.cert, '-CAkey', ca.key, '-extfile', extFile,
    ], {encoding: 'utf8'}).catch((error: unknown) => {
      const stderr = (error as {stderr?: string}).stderr?.trim().split('\n').at(-1)
      throw new Error(`openssl could not renew the certificate ${shape.cn}: ${stderr || (error as Error).message}`, {cause: error})
    })
    const match = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/.exec(stdout)
    if (!match) throw new Error('openssl printed no certificate')
    return match[0].endsWith('\n') ? match[0] : `${match[0]}\n`
  } finally {
    rmSync(work, {force: true, recursive: true})
  }
}

/** Replaces a file in the VM by a rename of a sibling written first (owner root, the mode given). */
export function replaceVmFile(root: string, vmPath: string, content: string, mode: number): void {
  const host = resolveInRoot(root, vmPath, false)
  const temporary = path.join(path.dirname(host), `.${path.basename(host)}.kp-lab-${process.pid}`)
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
  try {
    writeSync(fd, content)
    fsyncSync(fd)
    if (process.getuid?.() === 0) chownSync(temporary, 0, 0)
    closeSync(fd)
    renameSync(temporary, host)
  } catch (error) {
    rmSync(temporary, {force: true})
    throw error
  }
}

export interface RenewResult {
  name: string
  /** `renewed`, `missing` (no file), `external` (the CA's key is not on the node). */
  outcome: 'external' | 'missing' | 'renewed'
  line: string
}

/** Renews one certificate on the node as `kubeadm certs renew NAME` does, returning the line kubeadm prints. */
export async function renewCertificate(root: string, handler: CertificateHandler, days = DEFAULT_CERT_DAYS): Promise<RenewResult> {
  const certPem = readHandlerCert(root, handler)
  if (certPem === undefined) return {line: `MISSING! ${handler.longName}`, name: handler.name, outcome: 'missing'}
  if (external(root, handler.ca)) return {line: `Detected external ${handler.ca}, ${handler.longName} can't be renewed`, name: handler.name, outcome: 'external'}
  const base = caBase(handler.ca)
  const ca = {cert: resolveInRoot(root, `${base}.crt`), key: resolveInRoot(root, `${base}.key`)}
  if ('pki' in handler.file) {
    replaceVmFile(root, `${handler.file.pki}.crt`, await resignCertificate(certPem, ca, days), 0o644)
  } else {
    const text = readVmFile(root, handler.file.kubeconfig)!
    const config = parse(text) as {users: Array<{user: Record<string, unknown>}>}
    const user = config.users[0]!.user
    user['client-certificate-data'] = Buffer.from(await resignCertificate(certPem, ca, days)).toString('base64')
    replaceVmFile(root, handler.file.kubeconfig, stringify(config, {indentSeq: false, lineWidth: 0}), 0o600)
  }

  return {line: `${handler.longName} renewed`, name: handler.name, outcome: 'renewed'}
}

/** `kubeadm certs renew all`: every certificate in kubeadm's order, one line each. */
export async function renewAll(root: string, days = DEFAULT_CERT_DAYS): Promise<RenewResult[]> {
  const results: RenewResult[] = []
  for (const handler of CERTIFICATES) results.push(await renewCertificate(root, handler, days))
  return results
}
