/**
 * The CAs of a lab cluster, made on the host with the `openssl` CLI the way kubeadm makes them:
 * the cluster CA (CN `kubernetes`), the front-proxy CA, the etcd CA and the service-account key
 * pair. kubeadm uploads these to the other control planes (`--upload-certs`), so the lab keeps one
 * set per cluster in a host folder, which is also the fake API server's certDir: `<dir>/ca/` in the
 * layout certs.ts's ensurePki reads (ca.crt, ca.key and its admin client certificate), so the
 * server is signed by this very CA, and `<dir>/kubeadm/` for the rest. Each folder is made whole in
 * a private folder and renamed into place, so a crash or a concurrent caller never leaves half a CA.
 *
 * Every certificate is one openssl call (new key, signed by the CA or self-signed), its key read
 * from a pipe, never from a temporary file.
 */
import {execFile} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createPrivateKey, createPublicKey} from 'node:crypto'
import {isIP} from 'node:net'
import path from 'node:path'
import {promisify} from 'node:util'

import {caCertHash} from '../../kubeadm/secrets.js'
import {atomicDir} from '../fake-server.js'
import {ADMIN_GROUPS, ADMIN_USER, type KeyPair, subject} from '../kube/certs.js'

export type {KeyPair} from '../kube/certs.js'

const run = promisify(execFile)

/** kubeadm's ClusterConfiguration.encryptionAlgorithm values. */
export type EncryptionAlgorithm = 'ECDSA-P256' | 'ECDSA-P384' | 'RSA-2048' | 'RSA-3072' | 'RSA-4096'

export interface LabPkiOptions {
  /** Lifetime of the CAs in days; 3650 (kubeadm's caCertificateValidityPeriod) by default. */
  caDays?: number
  /** Lifetime of every other certificate in days; 365 (certificateValidityPeriod) by default. */
  certDays?: number
  /** Key type of new keys; RSA-2048 like kubeadm (ECDSA-P256 is ten times faster to make). */
  encryptionAlgorithm?: EncryptionAlgorithm
}

export const DEFAULT_CA_DAYS = 3650
export const DEFAULT_CERT_DAYS = 365
export const DEFAULT_ENCRYPTION_ALGORITHM: EncryptionAlgorithm = 'RSA-2048'

export interface ClusterCa {
  /** Host folder (0700), the fake API server's certDir. */
  dir: string
  ca: KeyPair
  frontProxyCa: KeyPair
  etcdCa: KeyPair
  sa: {key: string; pub: string}
  /** `sha256:<hex>` of the CA's SubjectPublicKeyInfo: kubeadm's discovery hash. */
  caCertHash: string
}

/** Which CA signs a certificate: its files on the host (openssl reads the key from disk). */
export type Issuer = 'ca' | 'etcd-ca' | 'front-proxy-ca'

export interface CertificateSpec {
  cn: string
  /** Organisations (groups), in order. */
  o?: readonly string[]
  /** Extended key usages; a CA has none. */
  usages?: ReadonlyArray<'clientAuth' | 'serverAuth'>
  /** Subject alternative names: IPs and DNS names. */
  sans?: readonly string[]
  days: number
}

const CA_USAGE = 'keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign'
// kubeadm (client-go's certutil) asks for key encipherment whatever the key type.
const LEAF_USAGE = 'keyUsage=critical,digitalSignature,keyEncipherment'

function keyArgs(algorithm: EncryptionAlgorithm): string[] {
  switch (algorithm) {
    case 'ECDSA-P256': return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1']
    case 'ECDSA-P384': return ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp384r1']
    default: return ['-newkey', `rsa:${algorithm.slice(4)}`]
  }
}

/** kubeadm writes keys as PKCS#1 (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`), not PKCS#8. */
function kubeadmKeyPem(pkcs8: string): string {
  const key = createPrivateKey(pkcs8)
  return key.export({format: 'pem', type: key.asymmetricKeyType === 'rsa' ? 'pkcs1' : 'sec1'}).toString()
}

function pemBlock(text: string, label: string): string {
  const match = new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----\\n?`).exec(text)
  if (!match) throw new Error(`openssl printed no ${label.toLowerCase()}`)
  return match[0].endsWith('\n') ? match[0] : `${match[0]}\n`
}

function sanList(sans: readonly string[]): string {
  for (const name of sans) {
    // -addext is argv, not a shell, but a comma would still start another extension value.
    if (!/^[\w.:*-]+$/.test(name)) throw new Error(`not a valid subject alternative name: ${JSON.stringify(name)}`)
  }

  return [...new Set(sans)].map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',')
}

async function openssl(args: string[], what: string): Promise<string> {
  try {
    // -config /dev/null: the host's openssl.cnf would add its own extensions (v3_ca) to every certificate.
    const {stdout} = await run('openssl', [...args, '-config', '/dev/null'], {encoding: 'utf8'})
    return stdout
  } catch (error) {
    const stderr = (error as {stderr?: string}).stderr?.trim().split('\n').at(-1)
    throw new Error(`openssl could not make ${what}: ${stderr || (error as Error).message}`, {cause: error})
  }
}

/** The CA's files inside a ClusterCa folder, for openssl's -CA/-CAkey. */
export function issuerFiles(dir: string, issuer: Issuer): {cert: string; key: string} {
  const base = issuer === 'ca' ? path.join(dir, 'ca', 'ca') : path.join(dir, 'kubeadm', issuer)
  return {cert: `${base}.crt`, key: `${base}.key`}
}

/**
 * A new key and its certificate in one openssl call: signed by the issuer's files, or a
 * self-signed CA when there is none (with kubeadm's SAN `DNS:<cn>` on CAs).
 */
export async function issueCertificate(spec: CertificateSpec, issuer: {cert: string; key: string} | undefined, algorithm: EncryptionAlgorithm = DEFAULT_ENCRYPTION_ALGORITHM): Promise<KeyPair> {
  const ext = issuer
    ? [
      'basicConstraints=critical,CA:FALSE', LEAF_USAGE,
      ...(spec.usages?.length ? [`extendedKeyUsage=${spec.usages.join(',')}`] : []),
      ...(spec.sans?.length ? [`subjectAltName=${sanList(spec.sans)}`] : []),
      'authorityKeyIdentifier=keyid',
    ]
    : ['basicConstraints=critical,CA:TRUE', CA_USAGE, 'subjectKeyIdentifier=hash', `subjectAltName=${sanList([spec.cn, ...(spec.sans ?? [])])}`]
  const stdout = await openssl([
    'req', '-x509', ...keyArgs(algorithm), '-nodes', '-sha256', '-days', String(spec.days),
    '-subj', subject(spec.cn, spec.o ?? []), '-keyout', '-', '-out', '-',
    ...(issuer ? ['-CA', issuer.cert, '-CAkey', issuer.key] : []),
    ...ext.flatMap((e) => ['-addext', e]),
  ], `the certificate ${spec.cn}`)
  return {certPem: pemBlock(stdout, 'CERTIFICATE'), keyPem: kubeadmKeyPem(pemBlock(stdout, 'PRIVATE KEY'))}
}

/** The service-account signing key pair (sa.key, sa.pub): a bare key, no certificate. */
async function serviceAccountKey(algorithm: EncryptionAlgorithm): Promise<{key: string; pub: string}> {
  const args = algorithm.startsWith('RSA')
    ? ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${algorithm.slice(4)}`]
    : ['-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${algorithm === 'ECDSA-P384' ? 'secp384r1' : 'prime256v1'}`]
  const stdout = await openssl(['genpkey', ...args], 'the service-account key')
  const key = kubeadmKeyPem(pemBlock(stdout, 'PRIVATE KEY'))
  return {key, pub: createPublicKey(key).export({format: 'pem', type: 'spki'}).toString()}
}

function writePair(dir: string, base: string, pair: KeyPair): void {
  writeFileSync(path.join(dir, `${base}.crt`), pair.certPem, {mode: 0o644})
  writeFileSync(path.join(dir, `${base}.key`), pair.keyPem, {mode: 0o600})
}

function readPair(files: {cert: string; key: string}): KeyPair {
  return {certPem: readFileSync(files.cert, 'utf8'), keyPem: readFileSync(files.key, 'utf8')}
}

/**
 * Create (or load, if already there) the cluster CAs under dir. A `<dir>/ca/` the fake API server
 * made first is kept: its CA becomes the cluster's.
 */
export async function ensureClusterCa(dir: string, options: LabPkiOptions = {}): Promise<ClusterCa> {
  const algorithm = options.encryptionAlgorithm ?? DEFAULT_ENCRYPTION_ALGORITHM
  const caDays = options.caDays ?? DEFAULT_CA_DAYS
  mkdirSync(dir, {mode: 0o700, recursive: true})
  chmodSync(dir, 0o700)
  const issueCa = (cn: string) => issueCertificate({cn, days: caDays}, undefined, algorithm)
  await atomicDir(path.join(dir, 'ca'), async (work) => {
    const ca = await issueCa('kubernetes')
    writePair(work, 'ca', ca)
    // ensurePki expects the admin client certificate beside the CA.
    const admin = await issueCertificate({cn: ADMIN_USER, days: options.certDays ?? DEFAULT_CERT_DAYS, o: ADMIN_GROUPS, usages: ['clientAuth']}, {cert: path.join(work, 'ca.crt'), key: path.join(work, 'ca.key')}, algorithm)
    writePair(work, 'admin', admin)
  })
  await atomicDir(path.join(dir, 'kubeadm'), async (work) => {
    const [frontProxyCa, etcdCa, sa] = await Promise.all([issueCa('front-proxy-ca'), issueCa('etcd-ca'), serviceAccountKey(algorithm)])
    writePair(work, 'front-proxy-ca', frontProxyCa)
    writePair(work, 'etcd-ca', etcdCa)
    writeFileSync(path.join(work, 'sa.key'), sa.key, {mode: 0o600})
    writeFileSync(path.join(work, 'sa.pub'), sa.pub, {mode: 0o600})
  })
  const ca = readPair(issuerFiles(dir, 'ca'))
  return {
    ca,
    caCertHash: caCertHash(ca.certPem),
    dir,
    etcdCa: readPair(issuerFiles(dir, 'etcd-ca')),
    frontProxyCa: readPair(issuerFiles(dir, 'front-proxy-ca')),
    sa: {key: readFileSync(path.join(dir, 'kubeadm', 'sa.key'), 'utf8'), pub: readFileSync(path.join(dir, 'kubeadm', 'sa.pub'), 'utf8')},
  }
}
