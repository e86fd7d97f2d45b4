/** The lab PKI: made once with openssl, reused, serving SANs per set, client certificates with groups. */
import {X509Certificate} from 'node:crypto'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {ensurePki, issueClientCertificate} from '../../../src/lib/lab/kube/index.js'

describe('the lab PKI', () => {
  it('makes a CA, a serving certificate with the SANs and an admin client certificate, and reuses them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kp-kube-pki-'))
    const pki = await ensurePki(dir, ['10.10.0.11', 'cp1.lab'])
    const ca = new X509Certificate(pki.ca.certPem)
    const server = new X509Certificate(pki.server.certPem)
    expect(ca.subject).toBe('CN=kubernetes')
    expect(ca.ca).toBe(true)
    expect(server.verify(ca.publicKey)).toBe(true)
    expect(server.subjectAltName).toContain('IP Address:10.10.0.11')
    expect(server.subjectAltName).toContain('DNS:cp1.lab')
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1')
    expect(new X509Certificate(pki.admin.certPem).subject).toBe('O=kubeadm:cluster-admins\nO=system:masters\nCN=kubernetes-admin')

    const again = await ensurePki(dir, ['10.10.0.11', 'cp1.lab'])
    expect(again.ca.certPem).toBe(pki.ca.certPem)
    expect(again.server.certPem).toBe(pki.server.certPem)
    const other = await ensurePki(dir, ['10.10.0.12'])
    expect(other.ca.certPem).toBe(pki.ca.certPem)
    expect(new X509Certificate(other.server.certPem).subjectAltName).toContain('IP Address:10.10.0.12')

    const kubelet = await issueClientCertificate(pki, 'system:node:w1', ['system:nodes'], 1)
    const cert = new X509Certificate(kubelet.certPem)
    expect(cert.subject).toBe('O=system:nodes\nCN=system:node:w1')
    expect(cert.verify(ca.publicKey)).toBe(true)
    expect(Date.parse(cert.validTo) - Date.now()).toBeLessThan(2 * 86_400_000)
  })
})
