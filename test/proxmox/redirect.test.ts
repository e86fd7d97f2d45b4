/**
 * A Proxmox endpoint that answers with a redirect (issue 12, 2.3): kp used to follow it to plain http,
 * where the certificate pin check met a TCP socket and threw from a socket callback — a stack trace,
 * the cluster lock left behind, the journal still "running". Now the redirect is refused, with where it
 * pointed, the run fails like any other, and a plain socket never reaches the pin check.
 */
import {generateKeyPairSync} from 'node:crypto'
import {existsSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer as createHttpServer, type Server as HttpServer} from 'node:http'
import {createServer as createHttpsServer, type Server as HttpsServer} from 'node:https'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'

import {fetch} from 'undici'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {ensureCertificate} from '../../src/lib/lab/proxmox/cert.js'
import {ProxmoxError} from '../../src/lib/proxmox/errors.js'
import {trustingAgent} from '../../src/lib/proxmox/tls.js'
import {runKp, tempDir} from '../helpers/cli.js'

function listen<T extends HttpServer | HttpsServer>(server: T): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}

/** An OpenSSH public key line for a fresh ed25519 key. */
function sshPublicKey(): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({format: 'der', type: 'spki'}).subarray(-32)
  const field = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  return `ssh-ed25519 ${Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]).toString('base64')} kp-test`
}

describe('a Proxmox endpoint that redirects', () => {
  let plain: HttpServer
  let redirecting: HttpsServer
  let plainPort = 0
  let httpsPort = 0
  let fingerprint = ''
  const dir = tempDir('kp-pve-redirect-')
  const stateDir = path.join(dir, 'state')

  function writeConfig(port: number): string {
    writeFileSync(path.join(dir, 'token.secret'), 'c0ffee00-1111-2222-3333-444455556666\n', {mode: 0o600})
    writeFileSync(path.join(dir, 'id_kp'), 'not used by vm seed before it reaches Proxmox\n', {mode: 0o600})
    writeFileSync(path.join(dir, 'id_kp.pub'), `${sshPublicKey()}\n`)
    const file = path.join(dir, 'kp.yaml')
    writeFileSync(
      file,
      `cluster:
  name: redirlab
  kubernetesVersion: 1.31.9
  controlPlaneEndpoint: 10.77.0.11
  cni: {manifest: https://example.invalid/cni.yaml}
proxmox:
  endpoint: https://127.0.0.1:${port}
  node: pve1
  tokenId: kp@pve!automation
  tokenSecret: {file: token.secret}
  fingerprint: "${fingerprint}"
  templateVmid: 9000
network:
  gateway: 10.77.0.1
  prefix: 24
  dns: [10.77.0.1]
ssh:
  user: debian
  identityFile: id_kp
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 10.77.0.11}
`,
    )
    return file
  }

  beforeAll(async () => {
    const cert = await ensureCertificate(path.join(tmpdir(), 'kp-pve-adapter-test-certs'), '127.0.0.1', 'pve1')
    fingerprint = cert.fingerprint
    // The plain http side answers too, as a misconfigured proxy would.
    plain = createHttpServer((_req, res) => res.writeHead(200, {'Content-Type': 'application/json'}).end('{"data":{"version":"8.3.0","release":"8.3"}}'))
    plainPort = await listen(plain)
    redirecting = createHttpsServer({cert: cert.certPem, key: cert.keyPem}, (req, res) => {
      res.writeHead(301, {Location: `http://127.0.0.1:${plainPort}${req.url ?? '/'}`}).end()
    })
    httpsPort = await listen(redirecting)
  })

  afterAll(async () => {
    await new Promise((resolve) => redirecting.close(resolve))
    await new Promise((resolve) => plain.close(resolve))
  })

  it('kp vm list refuses the redirect, says where it pointed and what to set, without a stack trace', async () => {
    const config = writeConfig(httpsPort)
    const result = await runKp(['vm', 'list', '--config', config, '--state-dir', stateDir])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain(`Proxmox at https://127.0.0.1:${httpsPort} answered 301 redirecting to http://127.0.0.1:${plainPort}/api2/json/`)
    expect(result.stderr).toContain('set proxmox.endpoint to')
    expect(result.stderr).not.toMatch(/TypeError|getPeerCertificate|\n\s+at /)
    expect(result.stderr).not.toContain('c0ffee00')
  })

  it('kp vm seed fails the run: no stack trace, no lock left, the journal says failed', async () => {
    const config = writeConfig(httpsPort)
    const result = await runKp(['vm', 'seed', '--yes', '--config', config, '--state-dir', stateDir])
    expect(result.code, result.stderr).toBe(2)
    expect(result.stderr).toContain('answered 301 redirecting to http://127.0.0.1:')
    expect(result.stderr).not.toMatch(/TypeError|getPeerCertificate|\n\s+at /)
    expect(existsSync(path.join(stateDir, 'locks', 'redirlab.lock'))).toBe(false)
    const runs = readdirSync(path.join(stateDir, 'runs'))
    expect(runs).toHaveLength(1)
    const journal = JSON.parse(readFileSync(path.join(stateDir, 'runs', runs[0]!, 'journal.json'), 'utf8')) as {error?: {kind: string}; status: string}
    expect(journal.status).toBe('failed')
    expect(journal.error?.kind).toBe('config')
  })

  it('names the new https address when the redirect stays on https', async () => {
    const cert = await ensureCertificate(path.join(tmpdir(), 'kp-pve-adapter-test-certs'), '127.0.0.1', 'pve1')
    const elsewhere = createHttpsServer({cert: cert.certPem, key: cert.keyPem}, (req, res) => {
      res.writeHead(302, {Location: `https://127.0.0.1:${httpsPort}${req.url ?? '/'}`}).end()
    })
    const port = await listen(elsewhere)
    try {
      const result = await runKp(['vm', 'list', '--config', writeConfig(port), '--state-dir', stateDir])
      expect(result.code, result.stderr).toBe(2)
      expect(result.stderr).toContain(`answered 302 redirecting to https://127.0.0.1:${httpsPort}/api2/json/`)
      expect(result.stderr).toContain(`set proxmox.endpoint to https://127.0.0.1:${httpsPort} if that is the Proxmox API`)
    } finally {
      await new Promise((resolve) => elsewhere.close(resolve))
    }
  })

  it('a plain TCP socket reaching the pinning connector is refused as not TLS, not thrown from the socket callback', async () => {
    const agent = trustingAgent(`https://127.0.0.1:${httpsPort}`, {fingerprint}, () => {})
    try {
      const error = await fetch(`http://127.0.0.1:${plainPort}/api2/json/version`, {dispatcher: agent}).then(
        () => undefined,
        (e: unknown) => e as Error & {cause?: unknown},
      )
      expect(error?.cause).toBeInstanceOf(ProxmoxError)
      expect((error?.cause as ProxmoxError).message).toContain('is not TLS, so there is no certificate to check against proxmox.fingerprint')
    } finally {
      await agent.close()
    }
  })
})
