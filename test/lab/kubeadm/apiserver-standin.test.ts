/**
 * The lab's kube-apiserver stand-in (the built dist/…/apiserver-standin.js, run as the lab kubelet
 * runs it but on loopback) in front of a lab API server's front-proxy socket: it serves the
 * certificate on disk when it started — a renewal shows only after a restart — authenticates
 * client certificates of the node's CA and hands the identity over as X-Remote-* headers, which a
 * client cannot forge, neither through the stand-in nor on the API server's TLS port. No root.
 */
import {type ChildProcess, spawn} from 'node:child_process'
import {X509Certificate} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {request as httpRequest} from 'node:http'
import {request} from 'node:https'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {connect} from 'node:tls'

import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {renewAll} from '../../../src/lib/lab/kubeadm/certs.js'
import {controlPlaneFiles} from '../../../src/lib/lab/kubeadm/node-files.js'
import {ensureClusterCa} from '../../../src/lib/lab/kubeadm/pki.js'
import {readVmFile, writeVmFiles} from '../../../src/lib/lab/kubeadm/vm-files.js'
import {startTestKube, type TestKube} from '../kube/helpers.js'

const STANDIN = path.resolve('dist/lib/lab/kubeadm/apiserver-standin.js')
const PKI = '/etc/kubernetes/pki'
let dir: string
let root: string
let t: TestKube
let port: number
let child: ChildProcess | undefined

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const {port: p} = s.address() as {port: number}
    s.close(() => resolve(p))
  })
})

function served(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port, rejectUnauthorized: false}, () => {
      resolve(socket.getPeerCertificate().serialNumber)
      socket.destroy()
    })
    socket.on('error', () => resolve(undefined))
  })
}

async function startStandin(env: Record<string, string> = {}): Promise<void> {
  child = spawn(process.execPath, [STANDIN, 'kube-apiserver', '--advertise-address=127.0.0.1', `--secure-port=${port}`, `--client-ca-file=${PKI}/ca.crt`,
    `--tls-cert-file=${PKI}/apiserver.crt`, `--tls-private-key-file=${PKI}/apiserver.key`], {env: {KPLAB_ROOT: root, KPLAB_UPSTREAM: path.join(t.dir, 'fp.sock'), ...env}, stdio: 'ignore'})
  for (let i = 0; i < 100 && (await served()) === undefined; i++) await new Promise((r) => setTimeout(r, 50))
}

async function stopStandin(): Promise<void> {
  if (!child || child.exitCode !== null) return
  const gone = new Promise((resolve) => child!.once('exit', resolve))
  child.kill('SIGTERM')
  await gone
}

const onDisk = () => new X509Certificate(readVmFile(root, `${PKI}/apiserver.crt`)!).serialNumber

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'kp-standin-'))
  root = path.join(dir, 'cp1')
  mkdirSync(root)
  const ca = await ensureClusterCa(path.join(dir, 'pki'), {certDays: 30, encryptionAlgorithm: 'ECDSA-P256'})
  const spec = {clusterName: 'lab', endpoint: '127.0.0.1:6443', kubernetesVersion: '1.31.8', podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12'}
  writeVmFiles(root, await controlPlaneFiles(ca, spec, {ip: '127.0.0.1', name: 'cp1'}, {certDays: 30, encryptionAlgorithm: 'ECDSA-P256', first: true}))
  const kubeDir = path.join(dir, 'kube')
  mkdirSync(kubeDir)
  t = await startTestKube({frontProxySocket: path.join(kubeDir, 'fp.sock')}, kubeDir)
  port = await freePort()
}, 60_000)

afterAll(async () => {
  await stopStandin()
  await t?.kube.close()
  rmSync(dir, {force: true, recursive: true})
})

function get(urlPath: string, options: {cert?: string; key?: string; headers?: Record<string, string>} = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({...options, host: '127.0.0.1', path: urlPath, port, rejectUnauthorized: false}, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the kube-apiserver stand-in', () => {
  it('serves the certificate of its start until restarted, and proxies authenticated requests only', async () => {
    expect(existsSync(STANDIN), 'npm run build first').toBe(true)
    await startStandin()
    const first = onDisk()
    expect(await served()).toBe(first)

    const admin = parse(readVmFile(root, '/etc/kubernetes/admin.conf')!) as {users: Array<{user: Record<string, string>}>}
    const b64 = (k: string) => Buffer.from(admin.users[0]!.user[k]!, 'base64').toString()
    const cert = b64('client-certificate-data')
    const key = b64('client-key-data')
    expect(await get('/api/v1/namespaces/kube-system/configmaps', {cert, key})).toBe(200)
    expect(await get('/readyz')).toBe(200)
    // No certificate: 401, a forged identity header is dropped by the stand-in.
    expect(await get('/api/v1/namespaces', {headers: {'X-Remote-User': 'kubernetes-admin', 'X-Remote-Group': 'system:masters'}})).toBe(401)

    await renewAll(root)
    expect(onDisk()).not.toBe(first)
    expect(await served()).toBe(first)
    await stopStandin()
    expect(await served()).toBeUndefined()
    await startStandin()
    expect(await served()).toBe(onDisk())
    expect(await get('/api/v1/namespaces', {cert, key})).toBe(200)
    await stopStandin()
  })

  it('exits at once under the --apiserver-wont-start fault', async () => {
    child = spawn(process.execPath, [STANDIN, 'kube-apiserver', `--secure-port=${port}`], {env: {KPLAB_CRASH: '1', KPLAB_ROOT: root, KPLAB_UPSTREAM: '/nonexistent'}, stdio: 'ignore'})
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)))
    expect(code).toBe(1)
    expect(await served()).toBeUndefined()
  })

  it('records itself where the lab crictl finds it, under the manifest\'s command[0], and as kube-scheduler only waits for SIGTERM', async () => {
    const id = 'a'.repeat(64)
    const log = '/var/log/pods/kube-system_kube-scheduler-cp1/kube-scheduler/2.log'
    const from = BigInt(Date.now()) * 1_000_000n
    child = spawn(process.execPath, [STANDIN, 'kube-scheduler', '--kubeconfig=/etc/kubernetes/scheduler.conf'], {
      env: {
        KPLAB_ATTEMPT: '2', KPLAB_CONTAINER_ID: id, KPLAB_CONTAINER_NAME: 'kube-scheduler', KPLAB_IMAGE: 'registry.k8s.io/kube-scheduler:v1.31.8',
        KPLAB_IMAGE_ROOT: '/var/lib/kp-lab/images/kube-scheduler', KPLAB_LOG: log, KPLAB_POD: 'kube-scheduler-cp1', KPLAB_POD_ID: 'b'.repeat(64), KPLAB_ROOT: root,
      },
      stdio: 'ignore',
    })
    const record = (f: string) => readVmFile(root, `/run/kp-lab/containers/${id}/${f}`)?.trim()
    for (let i = 0; i < 100 && record('pid') === undefined; i++) await new Promise((r) => setTimeout(r, 50))
    expect(record('pid')).toBe(String(child.pid))
    expect({attempt: record('attempt'), command: record('command'), image: record('image'), name: record('name'), pod: record('pod'), podId: record('pod-id'), root: record('root')}).toEqual({
      attempt: '2', command: 'kube-scheduler', image: 'registry.k8s.io/kube-scheduler:v1.31.8', name: 'kube-scheduler', pod: 'kube-scheduler-cp1', podId: 'b'.repeat(64),
      root: '/var/lib/kp-lab/images/kube-scheduler',
    })
    const created = BigInt(record('created')!)
    expect(created >= from && created <= BigInt(Date.now()) * 1_000_000n).toBe(true)
    // What the lab crictl compares with the record: the first word of the process's command line.
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('kube-scheduler')
    expect(readVmFile(root, log)).toContain('kube-scheduler')
    await new Promise((r) => setTimeout(r, 1500))
    expect(child.exitCode).toBeNull()
    const code = new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)))
    child.kill('SIGTERM')
    expect(await code).toBe(0)
  })

  it('exits once the supervisor named in KPLAB_SUPERVISOR is gone', async () => {
    const supervisor = spawn('sleep', ['60'], {stdio: 'ignore'})
    child = spawn(process.execPath, [STANDIN, 'kube-controller-manager'], {env: {KPLAB_ROOT: root, KPLAB_SUPERVISOR: String(supervisor.pid)}, stdio: 'ignore'})
    const code = new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)))
    await new Promise((r) => setTimeout(r, 1500))
    expect(child.exitCode).toBeNull()
    supervisor.kill('SIGKILL')
    expect(await code).toBe(0)
  })

  it('the lab API server presents another serving certificate from the next handshake on (the endpoint follows its API servers)', async () => {
    const at = () => new Promise<string>((resolve, reject) => {
      const socket = connect({host: t.kube.host, port: t.kube.port, rejectUnauthorized: false}, () => {
        resolve(socket.getPeerCertificate().serialNumber)
        socket.destroy()
      })
      socket.on('error', reject)
    })
    const own = await at()
    expect(own).not.toBe(onDisk())
    const pair = [readVmFile(root, `${PKI}/apiserver.crt`)!, readVmFile(root, `${PKI}/apiserver.key`)!] as const
    expect(t.kube.setServingCertificate(...pair)).toBe(true)
    expect(t.kube.setServingCertificate(...pair)).toBe(false)
    expect(await at()).toBe(onDisk())
    expect(() => t.kube.setServingCertificate(pair[0], 'not a key')).toThrow()
    expect(await at()).toBe(onDisk())
  })

  it("the API server trusts X-Remote-* only on its front-proxy socket, not on its TLS port", async () => {
    const viaSocket = (headers: Record<string, string>) => new Promise<number>((resolve, reject) => {
      const req = httpRequest({headers, path: '/api/v1/namespaces', socketPath: path.join(t.dir, 'fp.sock')}, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(await viaSocket({'X-Remote-Group': 'system:masters', 'X-Remote-User': 'kubernetes-admin'})).toBe(200)
    expect(await viaSocket({})).toBe(401)
    const tls = await new Promise<number>((resolve, reject) => {
      const req = request({headers: {'X-Remote-User': 'kubernetes-admin'}, host: t.kube.host, path: '/api/v1/namespaces', port: t.kube.port, rejectUnauthorized: false}, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on('error', reject)
      req.end()
    })
    expect(tls).toBe(401)
  })
})
