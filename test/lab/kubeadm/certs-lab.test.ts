/**
 * The lab's `kubeadm certs` and kube-apiserver static pod on a real lab control plane: the JSON of
 * check-expiration lists every certificate (30-day leaves: bootstrap's health check refuses fewer than 7), `renew all` renews them on disk, and the API server at
 * <node IP>:6443 keeps serving the old certificate until its manifest is moved out and back (the
 * static pod really restarted), then serves the renewed one and still authenticates the admin's
 * client certificate through the front proxy; its mirror pod follows it, and `kp lab fault
 * --apiserver-wont-start` keeps it from coming back after a restart. Needs root.
 */
import {X509Certificate} from 'node:crypto'
import {request} from 'node:https'
import path from 'node:path'
import {connect} from 'node:tls'

import {parse as parseYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {runKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from '../host/helpers.js'

if (!isRoot) console.warn('test/lab/kubeadm/certs-lab.test.ts: skipped, the lab needs root')

const CP = '10.77.0.11'
const started = Date.now()

/** The serial of the certificate served at CP:6443, or undefined when nothing listens. */
function servedSerial(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({host: CP, port: 6443, rejectUnauthorized: false, timeout: 3000}, () => {
      const serial = socket.getPeerCertificate().serialNumber
      socket.destroy()
      resolve(serial)
    })
    socket.on('error', () => resolve(undefined))
    socket.on('timeout', () => {
      socket.destroy()
      resolve(undefined)
    })
  })
}

describe.skipIf(!isRoot)('kubeadm certs and the kube-apiserver static pod in the lab', () => {
  const state = tempDir('kp-certs-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], timeoutMs = 900_000) => runKp([...args, '--state-dir', state, '--config', config], {timeoutMs})
  let ssh: SshClient
  const diskSerial = async () => new X509Certificate(await ssh.ok(CP, 'sudo cat /etc/kubernetes/pki/apiserver.crt')).serialNumber.toUpperCase()

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '1', '--control-planes', '1', '--cert-days', '30', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 20 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
  }, 40 * 60_000)

  afterAll(async () => {
    console.log(`certs-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('renews on disk, and the API server serves the renewed certificate only after its static pod restarted', async () => {
    const check = await ssh.run(CP, 'sudo kubeadm certs check-expiration -o json', {timeoutMs: 30_000})
    expect(check.code, check.stderr).toBe(0)
    const info = JSON.parse(check.stdout) as {kind: string; certificates: Array<{name: string; missing: boolean; residualTime: number}>; certificateAuthorities: unknown[]}
    expect(info.kind).toBe('CertificateExpirationInfo')
    expect(info.certificates.map((c) => c.name)).toHaveLength(11)
    expect(info.certificates.filter((c) => c.missing)).toEqual([])
    expect(info.certificates.every((c) => c.residualTime <= 30 * 86_400)).toBe(true)
    expect(info.certificateAuthorities).toHaveLength(3)

    await until('kube-apiserver serving at :6443', async () => (await servedSerial()) !== undefined, 60_000)
    const before = await servedSerial()
    expect(before).toBe(await diskSerial())

    const renew = await ssh.run(CP, 'sudo kubeadm certs renew all', {timeoutMs: 60_000})
    expect(renew.code, renew.stderr).toBe(0)
    expect(renew.stdout).toContain('certificate for serving the Kubernetes API renewed')
    expect(renew.stdout).toContain('Done renewing certificates. You must restart the kube-apiserver')
    const renewed = await diskSerial()
    expect(renewed).not.toBe(before)
    const after = JSON.parse((await ssh.ok(CP, 'sudo kubeadm certs check-expiration -o json'))) as {certificates: Array<{residualTime: number}>}
    expect(after.certificates.every((c) => c.residualTime > 364 * 86_400)).toBe(true)
    // Files renewed, the running API server untouched.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(await servedSerial()).toBe(before)

    await ssh.ok(CP, 'sudo mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/kube-apiserver.yaml')
    await until('kube-apiserver stopped', async () => (await servedSerial()) === undefined, 60_000)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml')
    await until('kube-apiserver serving the renewed certificate', async () => (await servedSerial()) === renewed, 60_000)

    // Through the node's API server, the admin's client certificate is authenticated (front proxy).
    const admin = parseYaml(await ssh.ok(CP, 'sudo cat /etc/kubernetes/admin.conf')) as {users: Array<{user: Record<string, string>}>}
    const b64 = (k: string) => Buffer.from(admin.users[0]!.user[k]!, 'base64')
    const status = (cert?: Buffer, key?: Buffer) => new Promise<number>((resolve, reject) => {
      const req = request({cert, host: CP, key, path: '/api/v1/namespaces/kube-system/pods', port: 6443, rejectUnauthorized: false}, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(await status(b64('client-certificate-data'), b64('client-key-data'))).toBe(200)
    expect(await status()).toBe(401)

    // The mirror pod kube-apiserver-cp1, read through the cluster endpoint, follows the container.
    const endpoint = (parseYaml(await ssh.ok(CP, 'sudo cat /etc/kubernetes/admin.conf')) as {clusters: Array<{cluster: {server: string}}>}).clusters[0]!.cluster.server
    const mirrorReady = () => new Promise<string | undefined>((resolve, reject) => {
      const url = new URL(`${endpoint}/api/v1/namespaces/kube-system/pods/kube-apiserver-cp1`)
      const req = request({cert: b64('client-certificate-data'), host: url.hostname, key: b64('client-key-data'), path: url.pathname, port: url.port, rejectUnauthorized: false}, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve((JSON.parse(body) as {status?: {conditions?: Array<{type: string; status: string}>}}).status?.conditions?.find((c) => c.type === 'Ready')?.status))
      })
      req.on('error', reject)
      req.end()
    })
    await until('mirror pod Ready', async () => (await mirrorReady()) === 'True', 30_000)

    // The fault: the next start exits at once (CrashLoopBackOff); the running one is left alone.
    const fault = await kp(['lab', 'fault', 'cp1', '--apiserver-wont-start'])
    expect(fault.code, fault.stderr).toBe(0)
    expect(await servedSerial()).toBe(renewed)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/kube-apiserver.yaml')
    await until('kube-apiserver stopped', async () => (await servedSerial()) === undefined, 60_000)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml')
    await new Promise((resolve) => setTimeout(resolve, 5000))
    expect(await servedSerial()).toBeUndefined()
    await until('mirror pod not Ready', async () => (await mirrorReady()) === 'False', 30_000)
    const cleared = await kp(['lab', 'fault', 'cp1', '--apiserver-starts'])
    expect(cleared.code, cleared.stderr).toBe(0)
    await until('kube-apiserver serving again', async () => (await servedSerial()) === renewed, 60_000)
  }, 240_000)
})
