/**
 * The lab's `kubeadm certs` and kube-apiserver static pod on a real lab control plane: the JSON of
 * check-expiration lists every certificate (30-day leaves: bootstrap's health check refuses fewer than 7), `renew all` renews them on disk, and the API server at
 * <node IP>:6443 keeps serving the old certificate until its manifest is moved out and back (the
 * static pod really restarted), then serves the renewed one and still authenticates the admin's
 * client certificate through the front proxy; its mirror pod follows it, and `kp lab fault
 * --apiserver-wont-start` keeps it from coming back after a restart. The lab's crictl lists
 * kube-apiserver, kube-controller-manager, kube-scheduler and etcd as kp certs rotate sees them (gone
 * once a manifest is out, a new container once it is back), and the endpoint (the VIP) presents the
 * certificate of the running API server, the renewed one after its restart. Needs root.
 */
import {X509Certificate} from 'node:crypto'
import {readFileSync} from 'node:fs'
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

/** The serial of the certificate served at host:port (CP:6443 by default), or undefined when nothing listens. */
function servedSerial(host = CP, port = 6443): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({host, port, rejectUnauthorized: false, timeout: 3000}, () => {
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

  /** The Ready condition of a mirror pod, read through the cluster endpoint with the admin's certificate. */
  const mirror = async (pod: string) => {
    const admin = parseYaml(await ssh.ok(CP, 'sudo cat /etc/kubernetes/admin.conf')) as {clusters: Array<{cluster: {server: string}}>; users: Array<{user: Record<string, string>}>}
    const b64 = (k: string) => Buffer.from(admin.users[0]!.user[k]!, 'base64')
    const url = new URL(`${admin.clusters[0]!.cluster.server}/api/v1/namespaces/kube-system/pods/${pod}`)
    return new Promise<string | undefined>((resolve, reject) => {
      const req = request({cert: b64('client-certificate-data'), host: url.hostname, key: b64('client-key-data'), path: url.pathname, port: url.port, rejectUnauthorized: false}, (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve((JSON.parse(body) as {status?: {conditions?: Array<{type: string; status: string}>}}).status?.conditions?.find((c) => c.type === 'Ready')?.status))
      })
      req.on('error', reject)
      req.end()
    })
  }

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
    const mirrorReady = () => mirror('kube-apiserver-cp1')
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

  interface Listed {
    createdAt: string
    id: string
    metadata: {name: string}
    labels: Record<string, string>
    state: string
  }
  const crictl = async (filter = '') => (JSON.parse(await ssh.ok(CP, `sudo crictl ps ${filter} -o json`)) as {containers: Listed[]}).containers
  const runningOne = async (component: string) => crictl(`--name '^${component}$' --state Running`)

  it('crictl lists every control-plane container; a manifest moved out and back restarts it, and the endpoint presents the renewed certificate', async () => {
    for (const c of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd']) {
      await until(`${c} listed running`, async () => (await runningOne(c)).length === 1, 60_000)
    }

    const listed = await crictl()
    expect(listed.map((c) => c.metadata.name).sort()).toEqual(['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'])
    expect(listed.every((c) => c.state === 'CONTAINER_RUNNING')).toBe(true)
    expect(listed.find((c) => c.metadata.name === 'kube-scheduler')?.labels['io.kubernetes.pod.name']).toBe('kube-scheduler-cp1')
    const table = await ssh.ok(CP, 'sudo crictl ps --name kube-apiserver')
    expect(table).toMatch(/Running\s+kube-apiserver\s+\d+\s+\w+\s+kube-apiserver-cp1/)

    // The endpoint (the VIP in the lab's kp.yaml) stands for a load balancer: it presents the running API server's certificate.
    const kpYaml = parseYaml(readFileSync(config, 'utf8')) as {cluster: {controlPlaneEndpoint: string}}
    const [vip, vipPort] = kpYaml.cluster.controlPlaneEndpoint.split(':')
    const atVip = () => servedSerial(vip, Number(vipPort))
    await until('the endpoint presents the API server\'s certificate', async () => (await atVip()) === (await servedSerial()), 30_000)

    // The controller manager: out, gone from crictl within the grace period; back, a new container created later.
    const cm = (await runningOne('kube-controller-manager'))[0]!
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/manifests/kube-controller-manager.yaml /etc/kubernetes/kube-controller-manager.yaml')
    await until('kube-controller-manager stopped', async () => (await runningOne('kube-controller-manager')).length === 0, 30_000)
    expect((await crictl('-a --name kube-controller-manager')).find((c) => c.id === cm.id)?.state).toBe('CONTAINER_EXITED')
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/kube-controller-manager.yaml /etc/kubernetes/manifests/kube-controller-manager.yaml')
    await until('kube-controller-manager running again', async () => (await runningOne('kube-controller-manager')).length === 1, 60_000)
    const cm2 = (await runningOne('kube-controller-manager'))[0]!
    expect(cm2.id).not.toBe(cm.id)
    expect(BigInt(cm2.createdAt)).toBeGreaterThan(BigInt(cm.createdAt))

    // kube-apiserver after a renewal, as kp certs rotate restarts it: the node and the endpoint serve the renewed certificate.
    const api = (await runningOne('kube-apiserver'))[0]!
    const before = await servedSerial()
    expect(await atVip()).toBe(before)
    await ssh.ok(CP, 'sudo kubeadm certs renew apiserver')
    const renewed = await diskSerial()
    expect(renewed).not.toBe(before)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/kube-apiserver.yaml')
    await until('kube-apiserver gone from crictl', async () => (await runningOne('kube-apiserver')).length === 0, 30_000)
    // The only control plane's manifest out: the endpoint stops (kubelets.ts serveClusters), and starts again with it.
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml')
    await until('kube-apiserver running again', async () => (await runningOne('kube-apiserver')).length === 1, 60_000)
    const api2 = (await runningOne('kube-apiserver'))[0]!
    expect(api2.id).not.toBe(api.id)
    expect(BigInt(api2.createdAt)).toBeGreaterThan(BigInt(api.createdAt))
    await until('the node serves the renewed certificate', async () => (await servedSerial()) === renewed, 30_000)
    await until('the endpoint presents the renewed certificate', async () => (await atVip()) === renewed, 30_000)

    // The mirror pods follow their containers.
    await until('kube-scheduler-cp1 Ready', async () => (await mirror('kube-scheduler-cp1')) === 'True', 30_000)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/manifests/kube-scheduler.yaml /etc/kubernetes/kube-scheduler.yaml')
    await until('kube-scheduler-cp1 not Ready', async () => (await mirror('kube-scheduler-cp1')) !== 'True', 30_000)
    await ssh.ok(CP, 'sudo mv /etc/kubernetes/kube-scheduler.yaml /etc/kubernetes/manifests/kube-scheduler.yaml')
    await until('kube-scheduler-cp1 Ready again', async () => (await mirror('kube-scheduler-cp1')) === 'True', 60_000)
    expect(await mirror('kube-controller-manager-cp1')).toBe('True')
  }, 300_000)
})
