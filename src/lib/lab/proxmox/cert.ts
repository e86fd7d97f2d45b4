/**
 * The host's TLS certificates, made with the `openssl` CLI the way a Proxmox host has them: a
 * self-signed cluster CA (`pve-root-ca.pem`) and a node certificate signed by it (`pve-ssl.pem`). They
 * are cached in a folder; the fingerprint is the node certificate's SHA-256 in Proxmox's `AB:CD:…` form.
 */
import {execFile} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {isIP} from 'node:net'
import path from 'node:path'

import {atomicDir} from '../fake-server.js'
import {promisify} from 'node:util'

const run = promisify(execFile)

export interface HostCertificate {
  caPem: string
  certPem: string
  /** SHA-256 of the node certificate, `AB:CD:…`. */
  fingerprint: string
  keyPem: string
}

/** Subject alternative names for the node certificate. */
function altNames(host: string, node: string): string {
  const names = new Set(['DNS:localhost', `DNS:${node}`, 'IP:127.0.0.1', 'IP:::1'])
  names.add(isIP(host) ? `IP:${host}` : `DNS:${host}`)
  return [...names].join(',')
}

/**
 * Load the certificates from `dir/<host>/`, or make them. Concurrent callers are safe: each makes its
 * set in a private folder and renames it into place; the first rename wins and the others use it.
 */
export async function ensureCertificate(dir: string, host: string, node: string): Promise<HostCertificate> {
  const target = path.join(dir, host.replace(/[^A-Za-z0-9.-]/g, '_'))
  await atomicDir(target, (work) => makeCertificates(work, host, node))
  const caPem = readFileSync(path.join(target, 'pve-root-ca.pem'), 'utf8')
  const certPem = readFileSync(path.join(target, 'pve-ssl.pem'), 'utf8')
  const keyPem = readFileSync(path.join(target, 'pve-ssl.key'), 'utf8')
  return {caPem, certPem, fingerprint: new X509Certificate(certPem).fingerprint256, keyPem}
}

async function makeCertificates(work: string, host: string, node: string): Promise<void> {
  const file = (name: string) => path.join(work, name)
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '3650',
    '-keyout', file('pve-root-ca.key'), '-out', file('pve-root-ca.pem'),
    '-subj', `/CN=Proxmox Virtual Environment/OU=${node}/O=PVE Cluster Manager CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ])
  await run('openssl', [
    'req', '-newkey', 'rsa:2048', '-nodes', '-sha256',
    '-keyout', file('pve-ssl.key'), '-out', file('pve-ssl.csr'),
    '-subj', `/OU=PVE Cluster Node/O=Proxmox Virtual Environment/CN=${node}.lab`,
  ])
  writeFileSync(
    file('ext.cnf'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=digitalSignature,nonRepudiation,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      `subjectAltName=${altNames(host, node)}`,
      '',
    ].join('\n'),
  )
  await run('openssl', [
    'x509', '-req', '-sha256', '-days', '730',
    '-in', file('pve-ssl.csr'), '-CA', file('pve-root-ca.pem'), '-CAkey', file('pve-root-ca.key'),
    '-CAcreateserial', '-out', file('pve-ssl.pem'), '-extfile', file('ext.cnf'),
  ])
}
