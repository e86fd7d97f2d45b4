/**
 * The lab kubeadm's `certs check-expiration` and `certs renew` over a node's files: a control
 * plane's and a worker's PKI as `kubeadm init`/`join` leave it (node-files.ts, real openssl), in a
 * temporary folder standing for the VM's root. No root, no lab.
 */
import {X509Certificate} from 'node:crypto'
import {mkdirSync, mkdtempSync, readdirSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {
  CERTIFICATES, type ExpirationEntry, expirationInfo, expirationJson, expirationText, readHandlerCert, renewAll, renewCertificate, shortHumanDuration,
} from '../../../src/lib/lab/kubeadm/certs.js'
import {controlPlaneFiles, type LabClusterSpec, workerFiles} from '../../../src/lib/lab/kubeadm/node-files.js'
import {parseKubeadmArgv} from '../../../src/lib/lab/kubeadm/argv.js'
import {ensureClusterCa} from '../../../src/lib/lab/kubeadm/pki.js'
import {readVmFile, writeVmFiles} from '../../../src/lib/lab/kubeadm/vm-files.js'

const DAY = 86_400_000
const spec: LabClusterSpec = {clusterName: 'lab', endpoint: '10.77.0.10:6443', kubernetesVersion: '1.31.8', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'}
const node = {ip: '10.77.0.21', name: 'cp1'}
let dir: string
let controlPlane: string
let worker: string

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kp-lab-certs-'))
  const options = {certDays: 5, encryptionAlgorithm: 'ECDSA-P256' as const}
  const ca = await ensureClusterCa(path.join(dir, 'pki'), options)
  controlPlane = path.join(dir, 'cp1')
  worker = path.join(dir, 'w1')
  for (const root of [controlPlane, worker, path.join(dir, 'external')]) mkdirSync(root)
  writeVmFiles(controlPlane, await controlPlaneFiles(ca, spec, node, {...options, first: true}))
  writeVmFiles(worker, await workerFiles(ca, spec, {ip: '10.77.0.31', name: 'w1'}, options))
}, 60_000)

afterAll(() => rmSync(dir, {force: true, recursive: true}))

const cert = (root: string, name: string) => new X509Certificate(readHandlerCert(root, CERTIFICATES.find((h) => h.name === name)!)!)

describe('kubeadm certs check-expiration', () => {
  it('lists every certificate and CA of a control plane, with the --cert-days lifetime, as JSON', () => {
    const now = Date.now()
    const doc = JSON.parse(expirationJson(expirationInfo(controlPlane), now)) as {
      kind: string; apiVersion: string
      certificates: Array<{name: string; expirationDate: string; residualTime: number; caName: string; externallyManaged: boolean; missing: boolean}>
      certificateAuthorities: Array<Record<string, unknown>>
    }
    expect(doc.kind).toBe('CertificateExpirationInfo')
    expect(doc.apiVersion).toBe('output.kubeadm.k8s.io/v1alpha3')
    expect(doc.certificates.map((c) => c.name)).toEqual(['admin.conf', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf',
      'etcd-healthcheck-client', 'etcd-peer', 'etcd-server', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf'])
    for (const c of doc.certificates) {
      expect(c.missing).toBe(false)
      expect(c.externallyManaged).toBe(false)
      // residualTime is whole seconds (ResidualTimeSeconds), expirationDate RFC 3339 without fraction.
      expect(c.residualTime).toBeGreaterThan(5 * 86_400 - 120)
      expect(c.residualTime).toBeLessThanOrEqual(5 * 86_400)
      expect(c.expirationDate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/)
      expect(Date.parse(c.expirationDate)).toBe(Date.parse(cert(controlPlane, c.name).validTo))
    }

    expect(Object.fromEntries(doc.certificates.map((c) => [c.name, c.caName]))).toMatchObject({'apiserver-etcd-client': 'etcd-ca', 'etcd-peer': 'etcd-ca', 'front-proxy-client': 'front-proxy-ca', 'scheduler.conf': 'ca'})
    expect(doc.certificateAuthorities.map((c) => c.name)).toEqual(['ca', 'etcd-ca', 'front-proxy-ca'])
    // A CA has no caName; its lifetime is ten years.
    expect(doc.certificateAuthorities.every((c) => !('caName' in c) && (c.residualTime as number) > 9 * 365 * 86_400)).toBe(true)
  })

  it("prints kubeadm's tables, column for column", () => {
    const now = Date.parse('2025-08-24T09:03:00Z')
    const at = (iso: string) => new Date(iso)
    const row = (name: string, notAfter: string, caName?: ExpirationEntry['caName']): ExpirationEntry => ({caName, externallyManaged: false, missing: false, name, notAfter: at(notAfter)})
    const info = {
      authorities: [row('ca', '2035-08-17T09:03:00Z'), row('etcd-ca', '2035-08-17T09:03:00Z'), row('front-proxy-ca', '2035-08-17T09:03:00Z')],
      certificates: [row('admin.conf', '2026-08-19T09:03:00Z', 'ca'), row('front-proxy-client', '2026-08-19T09:03:00Z', 'front-proxy-ca'),
        {externallyManaged: false, missing: true, name: 'super-admin.conf'}],
    }
    expect(expirationText(info, now)).toBe([
      // The missing row's name widens the first column, as Go's tabwriter does.
      'CERTIFICATE                  EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED',
      'admin.conf                   Aug 19, 2026 09:03 UTC   360d            ca                      no      ',
      'front-proxy-client           Aug 19, 2026 09:03 UTC   360d            front-proxy-ca          no      ',
      '!MISSING! super-admin.conf                                                                    ',
      '',
      'CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED',
      'ca                      Aug 17, 2035 09:03 UTC   9y              no      ',
      'etcd-ca                 Aug 17, 2035 09:03 UTC   9y              no      ',
      'front-proxy-ca          Aug 17, 2035 09:03 UTC   9y              no      ',
      '',
    ].join('\n'))
    expect([shortHumanDuration(-5000), shortHumanDuration(-500), shortHumanDuration(59_000), shortHumanDuration(3 * DAY + 5)]).toEqual(['<invalid>', '0s', '59s', '3d'])
  })

  it('on a worker: every kubeadm certificate missing, the cluster CA there but externally managed (no key)', () => {
    const info = expirationInfo(worker)
    expect(info.certificates.every((c) => c.missing)).toBe(true)
    expect(info.authorities.map((c) => [c.name, c.missing, c.externallyManaged])).toEqual([['ca', false, true], ['etcd-ca', true, false], ['front-proxy-ca', true, false]])
    expect(expirationText(info)).toContain('!MISSING! apiserver ')
  })
})

describe('kubeadm certs renew', () => {
  it('renews every certificate in place: same key, subject, SANs and usages, new serial, a year, the same CA', async () => {
    const before = new Map(CERTIFICATES.map((h) => [h.name, cert(controlPlane, h.name)]))
    const keysBefore = ['apiserver', 'etcd/server', 'etcd/peer', 'front-proxy-client'].map((b) => readVmFile(controlPlane, `/etc/kubernetes/pki/${b}.key`))
    const adminKeyBefore = (parse(readVmFile(controlPlane, '/etc/kubernetes/admin.conf')!) as {users: Array<{user: Record<string, string>}>}).users[0]!.user['client-key-data']
    const results = await renewAll(controlPlane)
    expect(results.map((r) => r.line)).toContain('certificate for serving the Kubernetes API renewed')
    expect(results.every((r) => r.outcome === 'renewed')).toBe(true)
    const ca = (file: string) => new X509Certificate(readVmFile(controlPlane, file)!)
    const issuers = {'ca': ca('/etc/kubernetes/pki/ca.crt'), 'etcd-ca': ca('/etc/kubernetes/pki/etcd/ca.crt'), 'front-proxy-ca': ca('/etc/kubernetes/pki/front-proxy-ca.crt')}
    for (const handler of CERTIFICATES) {
      const old = before.get(handler.name)!
      const renewed = cert(controlPlane, handler.name)
      expect(renewed.serialNumber, handler.name).not.toBe(old.serialNumber)
      expect(renewed.publicKey.export({format: 'der', type: 'spki'}).equals(old.publicKey.export({format: 'der', type: 'spki'})), handler.name).toBe(true)
      expect(renewed.subject).toBe(old.subject)
      expect(renewed.subjectAltName).toBe(old.subjectAltName)
      expect(renewed.keyUsage).toEqual(old.keyUsage)
      expect(renewed.verify(issuers[handler.ca].publicKey), handler.name).toBe(true)
      const days = (Date.parse(renewed.validTo) - Date.now()) / DAY
      expect(days).toBeGreaterThan(364.9)
      expect(days).toBeLessThanOrEqual(365)
    }

    expect(['apiserver', 'etcd/server', 'etcd/peer', 'front-proxy-client'].map((b) => readVmFile(controlPlane, `/etc/kubernetes/pki/${b}.key`))).toEqual(keysBefore)
    const admin = parse(readVmFile(controlPlane, '/etc/kubernetes/admin.conf')!) as {clusters: unknown[]; users: Array<{user: Record<string, string>}>}
    expect(admin.users[0]!.user['client-key-data']).toBe(adminKeyBefore)
    expect(admin.clusters).toHaveLength(1)
    // Modes as kubeadm leaves them, and no temporary file left beside them.
    expect(statSync(path.join(controlPlane, 'etc/kubernetes/pki/apiserver.crt')).mode & 0o777).toBe(0o644)
    expect(statSync(path.join(controlPlane, 'etc/kubernetes/admin.conf')).mode & 0o777).toBe(0o600)
    expect(readdirSync(path.join(controlPlane, 'etc/kubernetes/pki')).filter((f) => f.startsWith('.'))).toEqual([])
  })

  it('says MISSING for a certificate the node does not have, and external when the CA key is not there', async () => {
    expect((await renewCertificate(worker, CERTIFICATES.find((h) => h.name === 'apiserver')!)).line).toBe('MISSING! certificate for serving the Kubernetes API')
    const copy = path.join(dir, 'external')
    writeVmFiles(copy, [['/etc/kubernetes/pki/apiserver.crt', {content: readVmFile(controlPlane, '/etc/kubernetes/pki/apiserver.crt')!, mode: 0o644}]])
    writeVmFiles(copy, [['/etc/kubernetes/pki/ca.crt', {content: readVmFile(controlPlane, '/etc/kubernetes/pki/ca.crt')!, mode: 0o644}]])
    expect((await renewCertificate(copy, CERTIFICATES.find((h) => h.name === 'apiserver')!)).line).toBe("Detected external ca, certificate for serving the Kubernetes API can't be renewed")
  })
})

describe('kubeadm certs command line', () => {
  it('knows check-expiration with -o and renew with every certificate name and all', () => {
    expect(parseKubeadmArgv(['certs', 'check-expiration', '-o', 'json'])).toMatchObject({flags: {output: 'json'}, path: 'certs check-expiration'})
    expect(parseKubeadmArgv(['certs', 'check-expiration', '--output=json'])).toMatchObject({flags: {output: 'json'}, path: 'certs check-expiration'})
    expect(parseKubeadmArgv(['certs', 'renew', 'all'])).toMatchObject({path: 'certs renew all'})
    expect(parseKubeadmArgv(['certs', 'renew', 'etcd-server'])).toMatchObject({path: 'certs renew etcd-server'})
    expect(parseKubeadmArgv(['certs', 'renew', 'etcd-sever'])).toEqual({code: 1, message: 'invalid subcommand: "etcd-sever"\n'})
  })
})
