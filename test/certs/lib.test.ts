/**
 * The shared certificate library: parsing, chains, the remote read script (run by a real sh on real
 * files, the private keys beside the certificates never printed) and a served certificate read in
 * a real TLS handshake.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:tls'
import path from 'node:path'

import {beforeAll, describe, expect, it} from 'vitest'

import {chainsTo, daysLeft, parseCertificate, parseReadOutput, parseSans, READ_SCRIPT, servedCertificate} from '../../src/lib/certs/index.js'
import {tempDir} from '../helpers/cli.js'

const openssl = (args: string[]) => execFileSync('openssl', args, {stdio: ['ignore', 'pipe', 'pipe']})

describe('certificates', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir('kp-certs-lib-')
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/ca.key`, '-out', `${dir}/ca.crt`, '-subj', '/CN=kubernetes', '-days', '3650'])
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/other.key`, '-out', `${dir}/other.crt`, '-subj', '/CN=kubernetes', '-days', '3650'])
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${dir}/apiserver.key`, '-out', `${dir}/apiserver.csr`, '-subj', '/CN=kube-apiserver'])
    writeFileSync(`${dir}/ext`, 'subjectAltName=DNS:kubernetes,DNS:kubernetes.default,IP:10.96.0.1,IP:127.0.0.1\n')
    openssl(['x509', '-req', '-in', `${dir}/apiserver.csr`, '-CA', `${dir}/ca.crt`, '-CAkey', `${dir}/ca.key`, '-CAcreateserial', '-days', '5', '-out', `${dir}/apiserver.crt`, '-extfile', `${dir}/ext`])
  })

  it('reads subject, expiry and SANs, and checks the chain with the CA\'s key, not only its name', () => {
    const cert = parseCertificate(readFileSync(`${dir}/apiserver.crt`))
    expect(cert.subject).toBe('CN=kube-apiserver')
    expect(cert.sans).toEqual(['DNS:kubernetes', 'DNS:kubernetes.default', 'IP:10.96.0.1', 'IP:127.0.0.1'])
    expect(daysLeft(cert.notAfter, new Date())).toBe(4)
    expect(chainsTo(cert, parseCertificate(readFileSync(`${dir}/ca.crt`)))).toBe(true)
    // Same CN, another key: a look-alike CA is not this certificate's.
    expect(chainsTo(cert, parseCertificate(readFileSync(`${dir}/other.crt`)))).toBe(false)
    expect(parseSans(undefined)).toEqual([])
  })

  it('the read script prints certificates only: never the key of a kubelet PEM or a kubeconfig', () => {
    const root = path.join(dir, 'node')
    mkdirSync(root)
    const cert = readFileSync(`${dir}/apiserver.crt`, 'utf8')
    const key = readFileSync(`${dir}/apiserver.key`, 'utf8')
    writeFileSync(`${root}/kubelet-client-current.pem`, `${key}${cert}`)
    const b64 = (s: string) => Buffer.from(s).toString('base64')
    writeFileSync(`${root}/admin.conf`, `apiVersion: v1\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: ${b64(cert)}\n    client-key-data: ${b64(key)}\n`)
    writeFileSync(`${root}/kubelet.conf`, `users:\n- name: default-auth\n  user:\n    client-certificate: ${root}/kubelet-client-current.pem\n    client-key: ${root}/kubelet-client-current.pem\n`)
    writeFileSync(`${root}/garbage.crt`, 'not a certificate\n')
    const files = ['kubelet-client-current.pem', 'admin.conf', 'kubelet.conf', 'gone.crt', 'garbage.crt'].map((f) => `${root}/${f}`)
    const stdout = execFileSync('sh', ['-c', READ_SCRIPT, 'kp-certs', ...files], {encoding: 'utf8'})
    expect(stdout).not.toContain('PRIVATE KEY')
    expect(stdout).not.toContain(b64(key).slice(0, 40))
    const read = parseReadOutput(stdout)
    for (const f of files.slice(0, 3)) expect(read.get(f)).toMatchObject({certificate: {subject: 'CN=kube-apiserver'}})
    expect(read.get(`${root}/gone.crt`)).toEqual({missing: true})
    expect(read.get(`${root}/garbage.crt`)).toEqual({error: 'holds no certificate'})
  })

  it('reads the certificate a server presents, and says so when nothing listens', async () => {
    const server = createServer({cert: readFileSync(`${dir}/apiserver.crt`), key: readFileSync(`${dir}/apiserver.key`), requestCert: true, rejectUnauthorized: true})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const {port} = server.address() as {port: number}
    try {
      const served = await servedCertificate('127.0.0.1', port)
      expect(served.fingerprint256).toBe(parseCertificate(readFileSync(`${dir}/apiserver.crt`)).fingerprint256)
    } finally {
      server.close()
    }

    await expect(servedCertificate('127.0.0.1', port)).rejects.toThrow(`127.0.0.1:${port}: connection refused (nothing listens)`)
  })
})
