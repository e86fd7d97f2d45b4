/**
 * `kp certs check` and the `certificates` check of `kp health --deep`: what kubeadm's certificates
 * look like on every node, read over the run's one SSH connection per node, and what the API
 * servers and etcd members serve now. Gathering (SSH, TLS) and judging are apart: `judgeNode` is
 * pure, so every verdict is unit-tested with certificates made on the spot.
 */
import type {KpConfig, NodeConfig} from '../config/schema.js'
import {endpointParts} from '../config/net.js'
import {errorMessage} from '../errors.js'
import {expiryStatus} from '../health/checks/apiserver-certificate.js'
import {EXIT_CODE, type Status, worst} from '../health/status.js'
import type {SshSession} from '../ssh/types.js'
import {APISERVER_PORT, type CaName, ETCD_CLIENT_PORT, KUBEADM_CAS, KUBEADM_CERTIFICATES, KUBELET_CLIENT_CERTIFICATE, KUBELET_CONFIG} from './inventory.js'
import {readCertificates, type ReadResult} from './remote.js'
import {servedCertificate} from './served.js'
import {chainsTo, type CertificateInfo, daysLeft} from './x509.js'

/** A CA with less than this left is a WARNING: kp does not rotate CAs, and doing it by hand takes planning. */
export const CA_WARN_DAYS = 365
export const CA_RUNBOOK = 'runbooks/certs-rotate.md'

export type Served = {certificate: CertificateInfo} | {error: string}

/** What kp read on one node. */
export interface NodeReading {
  node: string
  role: NodeConfig['role']
  address: string
  /** Why nothing could be read there (SSH). */
  error?: string
  files: Map<string, ReadResult>
  /** `rotateCertificates` of the kubelet's config; undefined when the file could not be read. */
  kubeletRotates?: boolean
  /** What the API server and the etcd member of a control plane present now. */
  served: Partial<Record<'apiserver' | 'etcd', Served>>
}

/** One row of the report (the `--json` document's `certificates[]`). */
export interface CertificateRow {
  node: string
  /** kubeadm's name (`apiserver`, `admin.conf`), the CA's (`ca`, `etcd-ca`, `front-proxy-ca`), or `kubelet-client`. */
  name: string
  kind: 'ca' | 'certificate' | 'kubelet-client'
  path: string
  status: Status
  /** ISO 8601; null when the file could not be read. */
  notAfter: string | null
  daysLeft: number | null
  /** The CA it must chain to (not for CAs). */
  ca?: CaName
  /** Signed by that CA as read on the same node; null when there is nothing to compare (a CA, or the CA unreadable). */
  chainsToCa: boolean | null
  /** `apiserver` only: its subject alternative names. */
  sans?: string[]
  /** `apiserver` and `etcd-server` on a control plane: what the running server presents, against the file. */
  served?: {match: boolean; notAfter: string; daysLeft: number} | {error: string}
  /** `kubelet-client` only: whether the kubelet renews it itself; null when its config could not be read. */
  rotates?: boolean | null
  /** Why the status is not OK, each naming what to do. */
  problems: string[]
}

export interface Thresholds {
  warnDays: number
  criticalDays: number
}

const SEVERITY: Record<Status, number> = {CRITICAL: 3, OK: 0, UNKNOWN: 2, WARNING: 1}

/** The SANs the API server's certificate must hold: the endpoint every client uses, and the node's own address. */
export function requiredSans(config: KpConfig, node: NodeConfig): string[] {
  const endpoint = config.cluster.controlPlaneEndpoint
  const host = (/:\d+$/.test(endpoint) ? endpointParts(endpoint).host : endpoint).toLowerCase()
  const san = (h: string) => (/^[\d.]+$/.test(h) || h.includes(':') ? `IP:${h}` : `DNS:${h}`)
  return [...new Set([san(host), san(node.ip)])]
}

/** Every row of one node, judged against the thresholds at `now`. */
export function judgeNode(reading: NodeReading, required: readonly string[], thresholds: Thresholds, now: Date): CertificateRow[] {
  const controlPlane = reading.role === 'control-plane'
  const cas = new Map(KUBEADM_CAS.map((ca) => [ca.name, reading.files.get(ca.path)]))
  const caOf = (name: CaName) => {
    const read = cas.get(name)
    return read && 'certificate' in read ? read.certificate : undefined
  }

  const rows: CertificateRow[] = []
  if (controlPlane) {
    for (const ca of KUBEADM_CAS) {
      const row = base(reading, ca.name, 'ca', ca.path, reading.files.get(ca.path), thresholds, now)
      const cert = caOf(ca.name)
      if (cert && daysLeft(cert.notAfter, now) < CA_WARN_DAYS) {
        raise(row, 'WARNING', `CA ${ca.name} has less than ${CA_WARN_DAYS} days left: kp does not rotate CAs, plan it by hand (${CA_RUNBOOK}, "CA rotation")`)
      }

      rows.push(row)
    }

    for (const file of KUBEADM_CERTIFICATES) {
      const read = reading.files.get(file.path)
      // kubeadm writes super-admin.conf on the first control plane only (1.29 and later).
      if (file.name === 'super-admin.conf' && read && 'missing' in read) continue
      const row = {...base(reading, file.name, 'certificate', file.path, read, thresholds, now), ca: file.ca}
      const cert = read && 'certificate' in read ? read.certificate : undefined
      if (cert) {
        chain(row, cert, caOf(file.ca))
        if (file.name === 'apiserver') sans(row, cert, required)
        if (file.servedBy) served(row, cert, reading.served[file.servedBy], file.servedBy, reading, thresholds, now)
      }

      rows.push(row)
    }
  }

  const read = reading.files.get(KUBELET_CLIENT_CERTIFICATE)
  const kubelet: CertificateRow = {...base(reading, 'kubelet-client', 'kubelet-client', KUBELET_CLIENT_CERTIFICATE, read, thresholds, now), ca: 'ca'}
  if (read && 'certificate' in read) chain(kubelet, read.certificate, caOf('ca'))
  kubelet.rotates = reading.kubeletRotates ?? null
  if (reading.kubeletRotates === false) {
    raise(kubelet, 'WARNING', `the kubelet does not renew its client certificate: set rotateCertificates: true in ${KUBELET_CONFIG} and restart the kubelet`)
  }

  rows.push(kubelet)
  return rows
}

function base(reading: NodeReading, name: string, kind: CertificateRow['kind'], path: string, read: ReadResult | undefined, t: Thresholds, now: Date): CertificateRow {
  const row: CertificateRow = {node: reading.node, name, kind, path, status: 'OK', notAfter: null, daysLeft: null, chainsToCa: null, problems: []}
  if (!read) raise(row, 'UNKNOWN', `${path} was not read`)
  else if ('missing' in read) raise(row, 'WARNING', `${path} does not exist`)
  else if ('error' in read) raise(row, 'UNKNOWN', `${path} ${read.error}`)
  else {
    const {notAfter} = read.certificate
    row.notAfter = notAfter.toISOString()
    row.daysLeft = daysLeft(notAfter, now)
    const expiry = expiryStatus(notAfter, now, t.warnDays, t.criticalDays)
    if (expiry.status !== 'OK') raise(row, expiry.status, expiry.reason)
  }

  return row
}

function chain(row: CertificateRow, cert: CertificateInfo, ca: CertificateInfo | undefined): void {
  if (!ca) return
  row.chainsToCa = chainsTo(cert, ca)
  if (!row.chainsToCa) raise(row, 'CRITICAL', `is not signed by the ${row.ca} CA on ${row.node} (issuer ${cert.issuer}): clients that trust that CA refuse it`)
}

function sans(row: CertificateRow, cert: CertificateInfo, required: readonly string[]): void {
  row.sans = cert.sans
  const have = new Set(cert.sans.map((s) => s.toLowerCase()))
  const missing = required.filter((s) => !have.has(s.toLowerCase()))
  if (missing.length > 0) {
    raise(row, 'CRITICAL', `lacks the SAN${missing.length === 1 ? '' : 's'} ${missing.join(', ')}: clients reaching it there refuse the certificate; renew it with the SAN (kubeadm's certSANs)`)
  }
}

function served(row: CertificateRow, disk: CertificateInfo, answer: Served | undefined, by: 'apiserver' | 'etcd', reading: NodeReading, t: Thresholds, now: Date): void {
  const server = by === 'apiserver' ? `the API server (${reading.address}:${APISERVER_PORT})` : `the etcd member (${reading.address}:${ETCD_CLIENT_PORT})`
  if (!answer) return
  if ('error' in answer) {
    row.served = {error: answer.error}
    raise(row, 'UNKNOWN', `kp could not read what ${server} serves: ${answer.error}`)
    return
  }

  const live = answer.certificate
  const match = live.fingerprint256 === disk.fingerprint256
  row.served = {match, notAfter: live.notAfter.toISOString(), daysLeft: daysLeft(live.notAfter, now)}
  if (match) return
  const expiry = expiryStatus(live.notAfter, now, t.warnDays, t.criticalDays)
  const what = live.notAfter < disk.notAfter
    ? 'renewed on disk but the running server still serves the old certificate: restart its static pod'
    : 'the running server serves another certificate than the file on disk: restart its static pod'
  raise(row, expiry.status === 'CRITICAL' ? 'CRITICAL' : 'WARNING', `${what} (${server} serves one that ${expiry.reason})`)
}

function raise(row: CertificateRow, status: Status, problem: string): void {
  row.problems.push(problem)
  if (SEVERITY[status] > SEVERITY[row.status]) row.status = status
}

/** What to read on a node: the kubeadm set and the CAs on a control plane, the CA and the kubelet's certificate everywhere. */
export function pathsFor(role: NodeConfig['role']): string[] {
  const kubelet = [KUBEADM_CAS[0]!.path, KUBELET_CLIENT_CERTIFICATE]
  return role === 'control-plane' ? [...new Set([...KUBEADM_CAS.map((c) => c.path), ...KUBEADM_CERTIFICATES.map((c) => c.path), ...kubelet])] : kubelet
}

export interface ReadNodeOptions {
  /** The node's session (the run's one connection to it). */
  session: () => Promise<SshSession>
  /** The TLS handshake (a fake in tests). */
  served?: (host: string, port: number, options: {signal?: AbortSignal}) => Promise<CertificateInfo>
  signal?: AbortSignal
}

const firstLine = (error: unknown) => errorMessage(error).split('\n')[0]!

/** Reads one node: its files in one command, the kubelet's rotation setting, and on a control plane the two handshakes. */
export async function readNode(node: NodeConfig, options: ReadNodeOptions): Promise<NodeReading> {
  const reading: NodeReading = {address: node.ip, files: new Map(), node: node.name, role: node.role, served: {}}
  const handshake = options.served ?? servedCertificate
  const serve = (port: number): Promise<Served> =>
    handshake(node.ip, port, {signal: options.signal}).then(
      (certificate) => ({certificate}),
      (error: unknown) => ({error: firstLine(error)}),
    )
  // The handshakes do not wait for SSH: a node kp cannot log in to may still serve.
  const servedNow = node.role === 'control-plane' ? Promise.all([serve(APISERVER_PORT), serve(ETCD_CLIENT_PORT)]) : undefined
  try {
    const session = await options.session()
    const [files, rotates] = await Promise.all([readCertificates(session, pathsFor(node.role), options.signal), kubeletRotates(session, options.signal)])
    reading.files = files
    if (rotates !== undefined) reading.kubeletRotates = rotates
  } catch (error) {
    reading.error = `kp cannot read its certificates over SSH: ${firstLine(error)}`
  }

  if (servedNow) {
    const [apiserver, etcd] = await servedNow
    reading.served = {apiserver, etcd}
  }

  return reading
}

/** `rotateCertificates` of the kubelet's config (a YAML key at the top level); undefined when there is no such file. */
async function kubeletRotates(session: SshSession, signal?: AbortSignal): Promise<boolean | undefined> {
  const script = `[ -r "$1" ] || exit 3; sed -n 's/^rotateCertificates:[[:space:]]*//p' "$1"`
  const {code, stdout} = await session.exec(['sh', '-c', script, 'kp-kubelet', KUBELET_CONFIG], {allowFailure: true, idempotent: true, signal, sudo: true})
  if (code !== 0) return undefined
  // The kubelet's default is false when the key is absent.
  return stdout.trim().replace(/^["']|["']$/g, '') === 'true'
}

/** The document `kp certs check --json` prints (also the command's return value). */
export interface CertsReport {
  cluster: string
  status: Status
  exitCode: number
  checkedAt: string
  thresholds: Thresholds & {caWarnDays: number}
  nodes: Array<{name: string; role: NodeConfig['role']; address: string; error?: string}>
  certificates: CertificateRow[]
  summary: Record<'ok' | 'warning' | 'critical' | 'unknown', number>
}

export function buildReport(config: KpConfig, readings: readonly NodeReading[], now: Date): CertsReport {
  const thresholds = {criticalDays: config.health.certificateCriticalDays, warnDays: config.health.certificateWarnDays}
  const nodeOf = (name: string) => config.nodes.find((n) => n.name === name)!
  const certificates = readings.flatMap((r) => (r.error ? [] : judgeNode(r, requiredSans(config, nodeOf(r.node)), thresholds, now)))
  const statuses = [...certificates.map((c) => c.status), ...readings.filter((r) => r.error).map((): Status => 'UNKNOWN')]
  const count = (s: Status) => statuses.filter((x) => x === s).length
  const status = worst(statuses)
  return {
    cluster: config.cluster.name,
    status,
    exitCode: EXIT_CODE[status],
    checkedAt: now.toISOString(),
    thresholds: {...thresholds, caWarnDays: CA_WARN_DAYS},
    nodes: readings.map((r) => ({address: r.address, name: r.node, role: r.role, ...(r.error ? {error: r.error} : {})})),
    certificates,
    summary: {critical: count('CRITICAL'), ok: count('OK'), unknown: count('UNKNOWN'), warning: count('WARNING')},
  }
}
