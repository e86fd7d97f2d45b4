/**
 * A real etcd (the Debian package's /usr/bin/etcd, 3.4) on 127.0.0.1 for the fake API server's store
 * tests: client TLS with client-certificate auth (certificates from the openssl CLI), plain-HTTP peers
 * on loopback, data in a temporary folder, free ports. `etcdctl` runs with the same client certificate.
 */
import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'

const run = promisify(execFile)

export const ETCD = '/usr/bin/etcd'
export const ETCDCTL = '/usr/bin/etcdctl'

export interface EtcdPki {
  ca: string
  caFile: string
  cert: string
  certFile: string
  key: string
  keyFile: string
  serverCertFile: string
  serverKeyFile: string
}

export interface EtcdMember {
  clientUrl: string
  dataDir: string
  name: string
  peerUrl: string
  process?: ChildProcess
}

export interface EtcdCluster {
  dir: string
  /** Run etcdctl against the given members (all by default); never throws on a non-zero exit. */
  etcdctl(args: string[], members?: EtcdMember[]): Promise<{code: number; stderr: string; stdout: string}>
  members: EtcdMember[]
  pki: EtcdPki
  /** Start a stopped member again (same data dir unless given), waiting until its client port answers. */
  start(member: EtcdMember, options?: {dataDir?: string; initialCluster?: string}): Promise<void>
  stop(member: EtcdMember): Promise<void>
  stopAll(): Promise<void>
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

async function makePki(dir: string): Promise<EtcdPki> {
  const f = (name: string) => path.join(dir, name)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-sha256']
  await run('openssl', ['req', '-x509', ...key, '-days', '2', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-subj', '/CN=etcd-ca'])
  const sign = async (base: string, subj: string, ext: string) => {
    await run('openssl', ['req', ...key, '-keyout', f(`${base}.key`), '-out', f(`${base}.csr`), '-subj', subj])
    writeFileSync(f(`${base}.ext`), ext)
    await run('openssl', ['x509', '-req', '-sha256', '-days', '2', '-in', f(`${base}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${base}.crt`), '-extfile', f(`${base}.ext`)])
  }
  await sign('server', '/CN=etcd-server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n')
  // kubeadm's apiserver-etcd-client: CN kube-apiserver-etcd-client, client auth only.
  await sign('client', '/CN=kube-apiserver-etcd-client', 'extendedKeyUsage=clientAuth\n')
  return {
    ca: readFileSync(f('ca.crt'), 'utf8'), caFile: f('ca.crt'), cert: readFileSync(f('client.crt'), 'utf8'), certFile: f('client.crt'),
    key: readFileSync(f('client.key'), 'utf8'), keyFile: f('client.key'), serverCertFile: f('server.crt'), serverKeyFile: f('server.key'),
  }
}

/** Start `size` members forming one cluster and wait until a quorum read answers. */
export async function startEtcd(size = 1): Promise<EtcdCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'kp-etcd-'))
  const pki = await makePki(dir)
  const members: EtcdMember[] = []
  for (let i = 0; i < size; i++) {
    const name = `m${i + 1}`
    const dataDir = path.join(dir, name)
    mkdirSync(dataDir, {mode: 0o700})
    members.push({clientUrl: `https://127.0.0.1:${await freePort()}`, dataDir, name, peerUrl: `http://127.0.0.1:${await freePort()}`})
  }
  const initial = members.map((m) => `${m.name}=${m.peerUrl}`).join(',')

  const etcdctl = async (args: string[], on = members) => {
    const tls = ['--cacert', pki.caFile, '--cert', pki.certFile, '--key', pki.keyFile, '--endpoints', on.map((m) => m.clientUrl).join(','), '--command-timeout', '5s']
    try {
      const {stderr, stdout} = await run(ETCDCTL, [...tls, ...args], {env: {...process.env, ETCDCTL_API: '3'}, maxBuffer: 64 * 1024 * 1024})
      return {code: 0, stderr, stdout}
    } catch (error) {
      const e = error as {code?: number; stderr?: string; stdout?: string}
      return {code: typeof e.code === 'number' ? e.code : 1, stderr: e.stderr ?? '', stdout: e.stdout ?? ''}
    }
  }

  const start = async (m: EtcdMember, options: {dataDir?: string; initialCluster?: string} = {}) => {
    if (options.dataDir) m.dataDir = options.dataDir
    const child = spawn(ETCD, [
      '--name', m.name, '--data-dir', m.dataDir, '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl, '--initial-cluster', options.initialCluster ?? initial,
      '--initial-cluster-state', 'new', '--initial-cluster-token', path.basename(dir), '--client-cert-auth', '--trusted-ca-file', pki.caFile,
      '--cert-file', pki.serverCertFile, '--key-file', pki.serverKeyFile, '--heartbeat-interval', '50', '--election-timeout', '500', '--logger', 'zap',
      '--log-outputs', path.join(dir, `${m.name}.log`),
    ], {stdio: 'ignore'})
    m.process = child
  }

  const stop = async (m: EtcdMember) => {
    const child = m.process
    if (!child || child.exitCode !== null) return
    m.process = undefined
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  const cluster: EtcdCluster = {
    dir,
    etcdctl,
    members,
    pki,
    async start(m, options) {
      await start(m, options)
      await waitFor(async () => (await etcdctl(['endpoint', 'health'], [m])).code === 0, `etcd member ${m.name} healthy`)
    },
    stop,
    async stopAll() {
      for (const m of members) await stop(m)
    },
  }
  for (const m of members) await start(m)
  await waitFor(async () => (await etcdctl(['endpoint', 'health'])).code === 0, 'etcd healthy')
  return cluster
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
