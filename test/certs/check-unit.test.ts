/**
 * How kp certs check (and kp health --deep's certificates check) judges what it read: real
 * certificates made with openssl, read by the real read script, judged at a fixed instant; the
 * served certificates and the kubelet setting are given as the gatherer would.
 */
import {execFileSync} from 'node:child_process'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {type CertificateRow, judgeNode, type NodeReading, pathsFor, requiredSans} from '../../src/lib/certs/check.js'
import {parseCertificate, parseReadOutput, READ_SCRIPT} from '../../src/lib/certs/index.js'
import type {KpConfig, NodeConfig} from '../../src/lib/config/schema.js'
import {tempDir} from '../helpers/cli.js'
import {makeCas, makeLeaf, makeNodePki} from './pki.js'

// A minute after the certificates are made, so whole days left are one less than their lifetime.
const NOW = new Date(Date.now() + 60_000)
const T = {criticalDays: 7, warnDays: 30}
const SANS = ['DNS:kubernetes', 'DNS:k8s.lan', 'IP:10.96.0.1', 'IP:10.0.0.11']

/** The read script on a temp root, its output keyed by kubeadm's paths again. */
function readRoot(root: string, role: NodeConfig['role']): NodeReading['files'] {
  const stdout = execFileSync('sh', ['-c', READ_SCRIPT, 'kp-certs', ...pathsFor(role).map((p) => root + p)], {encoding: 'utf8'})
  return new Map([...parseReadOutput(stdout)].map(([file, read]) => [file.slice(root.length), read]))
}

describe('judging certificates', () => {
  let dir: string
  let cas: string
  let healthy: NodeReading
  let leaves: Map<string, {cert: string; key: string}>
  const row = (rows: CertificateRow[], name: string) => rows.find((r) => r.name === name)!

  beforeAll(() => {
    dir = tempDir('kp-certs-judge-')
    cas = makeCas(path.join(dir, 'cas'))
    const root = path.join(dir, 'cp1')
    leaves = makeNodePki(root, {apiserverSans: SANS, cas, controlPlane: true, days: 365, daysOf: {apiserver: 5, 'front-proxy-client': 20}})
    const same = (name: string) => ({certificate: parseCertificate(leaves.get(name)!.cert)})
    healthy = {address: '10.0.0.11', files: readRoot(root, 'control-plane'), kubeletRotates: true, node: 'cp1', role: 'control-plane', served: {apiserver: same('apiserver'), etcd: same('etcd-server')}}
  })

  it('lists every kubeadm certificate, the CAs and the kubelet\'s, each expiry judged by the health thresholds', () => {
    const rows = judgeNode(healthy, ['DNS:k8s.lan', 'IP:10.0.0.11'], T, NOW)
    expect(rows.map((r) => r.name)).toEqual([
      'ca', 'etcd-ca', 'front-proxy-ca', 'admin.conf', 'apiserver', 'apiserver-etcd-client', 'apiserver-kubelet-client', 'controller-manager.conf',
      'etcd-healthcheck-client', 'etcd-peer', 'etcd-server', 'front-proxy-client', 'scheduler.conf', 'super-admin.conf', 'kubelet-client',
    ])
    expect(row(rows, 'apiserver')).toMatchObject({chainsToCa: true, daysLeft: 4, served: {match: true}, status: 'CRITICAL'})
    expect(row(rows, 'apiserver').problems[0]).toMatch(/^expires \d{4}-\d\d-\d\d \(in 4 days\), within health.certificateCriticalDays \(7\)$/)
    expect(row(rows, 'front-proxy-client')).toMatchObject({ca: 'front-proxy-ca', chainsToCa: true, status: 'WARNING'})
    expect(row(rows, 'admin.conf')).toMatchObject({chainsToCa: true, daysLeft: 364, problems: [], status: 'OK'})
    expect(row(rows, 'kubelet-client')).toMatchObject({chainsToCa: true, rotates: true, status: 'OK'})
    expect(row(rows, 'ca')).toMatchObject({chainsToCa: null, kind: 'ca', status: 'OK'})
  })

  it('names a SAN the API server\'s certificate lacks (the endpoint, the node\'s address) as CRITICAL', () => {
    const config = {cluster: {controlPlaneEndpoint: 'api.example.lan:6443'}} as KpConfig
    const required = requiredSans(config, {ip: '10.0.0.12'} as NodeConfig)
    expect(required).toEqual(['DNS:api.example.lan', 'IP:10.0.0.12'])
    const apiserver = row(judgeNode(healthy, required, {criticalDays: 1, warnDays: 2}, NOW), 'apiserver')
    expect(apiserver.status).toBe('CRITICAL')
    expect(apiserver.problems).toEqual([expect.stringMatching(/^lacks the SANs DNS:api\.example\.lan, IP:10\.0\.0\.12: /)])
    expect(requiredSans({cluster: {controlPlaneEndpoint: '10.0.0.10'}} as KpConfig, {ip: '10.0.0.10'} as NodeConfig)).toEqual(['IP:10.0.0.10'])
  })

  it('a renewed file with the old certificate still served: WARNING saying to restart the static pod, CRITICAL when the served one is about to expire', () => {
    const old = parseCertificate(makeLeaf(cas, 'etcd-ca', 'etcd-server', 20).cert)
    const etcd = row(judgeNode({...healthy, served: {...healthy.served, etcd: {certificate: old}}}, [], T, NOW), 'etcd-server')
    expect(etcd.status).toBe('WARNING')
    expect(etcd.served).toMatchObject({daysLeft: 19, match: false})
    expect(etcd.problems[0]).toContain('renewed on disk but the running server still serves the old certificate: restart its static pod')
    expect(etcd.problems[0]).toContain('10.0.0.11:2379')

    const dying = parseCertificate(makeLeaf(cas, 'etcd-ca', 'etcd-server', 2).cert)
    expect(row(judgeNode({...healthy, served: {...healthy.served, etcd: {certificate: dying}}}, [], T, NOW), 'etcd-server').status).toBe('CRITICAL')

    const down = row(judgeNode({...healthy, served: {...healthy.served, etcd: {error: 'connection refused'}}}, [], T, NOW), 'etcd-server')
    expect(down).toMatchObject({served: {error: 'connection refused'}, status: 'UNKNOWN'})
  })

  it('a certificate signed by another CA of the same name is CRITICAL; a CA with less than a year left is a WARNING pointing to the runbook', () => {
    const others = makeCas(path.join(dir, 'other-cas'), 200)
    const files = new Map(healthy.files)
    files.set('/etc/kubernetes/pki/ca.crt', {certificate: parseCertificate(execFileSync('cat', [`${others}/ca.crt`]))})
    const rows = judgeNode({...healthy, files}, [], T, NOW)
    expect(row(rows, 'admin.conf')).toMatchObject({chainsToCa: false, status: 'CRITICAL'})
    expect(row(rows, 'admin.conf').problems[0]).toContain('is not signed by the ca CA on cp1')
    expect(row(rows, 'ca')).toMatchObject({daysLeft: 199, status: 'WARNING'})
    expect(row(rows, 'ca').problems[0]).toContain('runbooks/certs-rotate.md')
    // The etcd CA is not the one replaced: its certificates still chain.
    expect(row(rows, 'etcd-server').chainsToCa).toBe(true)
  })

  it('a kubelet that does not renew its certificate is a WARNING; a missing file is named; super-admin.conf may be absent', () => {
    const files = new Map(healthy.files)
    files.set('/etc/kubernetes/super-admin.conf', {missing: true})
    files.set('/etc/kubernetes/pki/apiserver-kubelet-client.crt', {missing: true})
    const rows = judgeNode({...healthy, files, kubeletRotates: false}, [], T, NOW)
    expect(rows.some((r) => r.name === 'super-admin.conf')).toBe(false)
    expect(row(rows, 'apiserver-kubelet-client')).toMatchObject({notAfter: null, problems: ['/etc/kubernetes/pki/apiserver-kubelet-client.crt does not exist'], status: 'WARNING'})
    expect(row(rows, 'kubelet-client')).toMatchObject({rotates: false, status: 'WARNING'})
    expect(row(rows, 'kubelet-client').problems[0]).toContain('rotateCertificates: true')
  })

  it('a worker has only the kubelet\'s certificate, checked against the cluster CA', () => {
    const root = path.join(dir, 'w1')
    makeNodePki(root, {apiserverSans: [], cas, controlPlane: false, days: 3, kubeletRotates: true})
    const rows = judgeNode({address: '10.0.0.21', files: readRoot(root, 'worker'), node: 'w1', role: 'worker', served: {}}, [], T, NOW)
    expect(rows).toEqual([expect.objectContaining({chainsToCa: true, daysLeft: 2, name: 'kubelet-client', node: 'w1', rotates: null, status: 'CRITICAL'})])
  })
})
