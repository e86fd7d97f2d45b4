/**
 * kp backup etcd end to end: the built CLI, a real OpenSSH server on 127.0.0.1 as the control plane
 * cp1, and a real etcd 3.4 (/usr/bin/etcd) with TLS and client-certificate auth. The "node" has a
 * crictl double first on its sudo PATH: `ps --name … -q` prints a container id while the test's
 * etcd runs, `exec ID etcdctl …` runs the host's real /usr/bin/etcdctl with kubeadm's certificate
 * paths and 127.0.0.1:2379 mapped to the test's. Snapshots land in the host's real /var/lib/etcd
 * (kubeadm's path; named by run id and removed by kp). A `cat` double cuts the copy on demand.
 * The Kubernetes API is the lab's fake (cp1 with its etcd-cp1 mirror pod), for cordons and its view.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {createHash} from 'node:crypto'
import {chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {FakeKube} from '../../src/lib/lab/kube/index.js'
import {settled} from '../health/helpers.js'
import {repoRoot, runKp, spawnKp, tempDir} from '../helpers/cli.js'
import {startTestKube} from '../lab/kube/helpers.js'
import {cannotRunSshd, createUsers, freePort, hasSudo, Sshd, type TestUsers} from '../ssh/sshd.js'
import {crictlDouble, makeEtcdPki, stopChild} from './helpers.js'

const skip = cannotRunSshd() ?? (hasSudo ? undefined : 'needs sudo') ?? (existsSync('/usr/bin/etcd') && existsSync('/usr/bin/etcdctl') ? undefined : 'needs /usr/bin/etcd and /usr/bin/etcdctl (etcd-server, etcd-client)')
if (skip) console.warn(`skipping the kp backup etcd test: ${skip}`)

/** Whether this machine lets the test mount a small tmpfs (a full disk); without it that one test is skipped, saying so. */
function cannotMountTmpfs(): string | undefined {
  if (skip) return skip
  const probe = tempDir('kp-tmpfs-probe-')
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', probe], {stdio: 'ignore'})
    execFileSync('umount', [probe], {stdio: 'ignore'})
    return undefined
  } catch {
    return 'mount -t tmpfs is not allowed here'
  } finally {
    rmSync(probe, {force: true, recursive: true})
  }
}

const noTmpfs = cannotMountTmpfs()
if (noTmpfs && !skip) console.warn(`skipping the full-disk case of kp backup etcd: ${noTmpfs}`)

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe.skipIf(skip)('kp backup etcd against a real etcd over a real sshd', () => {
  let dir: string
  let users: TestUsers
  let sshd: Sshd
  let etcd: ChildProcess | undefined
  let config: string
  let kube: FakeKube | undefined
  let clientPort: number
  let peerPort: number
  /** kp-backup-* files in /var/lib/etcd before this test (another run's): never touched. */
  let foreign: string[] = []
  const pki = () => path.join(dir, 'pki', 'etcd')
  const stateDir = () => path.join(dir, 'state')
  const backups = () => path.join(stateDir(), 'clusters', 'bk', 'backups')
  const kp = (args: string[]) => runKp([...args, '-c', config, '--state-dir', stateDir()], {env: {HOME: dir}, timeoutMs: 120_000})
  const etcdctl = (...args: string[]) =>
    execFileSync('/usr/bin/etcdctl', [`--endpoints=https://127.0.0.1:${clientPort}`, `--cacert=${pki()}/ca.crt`, `--cert=${pki()}/healthcheck-client.crt`, `--key=${pki()}/healthcheck-client.key`, ...args], {
      encoding: 'utf8',
      env: {...process.env, ETCDCTL_API: '3'},
    })
  const dbs = () => readdirSync(backups()).filter((f) => f.endsWith('.db') && !f.startsWith('.'))
  const leftovers = () => readdirSync(backups()).filter((f) => f.startsWith('.'))
  const remoteLeftovers = () => readdirSync('/var/lib/etcd').filter((f) => f.startsWith('kp-backup-'))

  async function startEtcd(): Promise<void> {
    const child = spawn('/usr/bin/etcd', [
      '--name', 'cp1', '--data-dir', path.join(dir, 'etcd-data'),
      '--listen-client-urls', `https://127.0.0.1:${clientPort}`, '--advertise-client-urls', `https://127.0.0.1:${clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPort}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPort}`,
      '--initial-cluster', `cp1=http://127.0.0.1:${peerPort}`,
      '--cert-file', `${pki()}/server.crt`, '--key-file', `${pki()}/server.key`, '--trusted-ca-file', `${pki()}/ca.crt`, '--client-cert-auth',
    ], {stdio: 'ignore'})
    etcd = child
    writeFileSync(path.join(dir, 'etcd.pid'), String(child.pid))
    for (let i = 0; i < 100; i++) {
      try {
        etcdctl('endpoint', 'health')
        return
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }

    throw new Error('etcd did not become healthy')
  }

  async function stopEtcd(): Promise<void> {
    const child = etcd
    etcd = undefined
    await stopChild(child)
  }

  /** The node side: crictl and cat doubles, first on the sudo PATH of the test user. */
  function makeDoubles(bin: string): void {
    mkdirSync(bin, {recursive: true})
    writeFileSync(
      path.join(bin, 'crictl'),
      crictlDouble({clientPort: String(clientPort), pidFile: `${dir}/etcd.pid`, pki: pki()}),
      {mode: 0o755},
    )
    // cut: half the file, then the session dies as on a dropped link; slow: half, then a long pause (for kill -9).
    writeFileSync(
      path.join(bin, 'cat'),
      `#!/bin/bash
case "$1" in /var/lib/etcd/kp-backup-*)
  half=$(( $(stat -c %s "$1") / 2 ))
  if [ -f ${dir}/cut-copy ]; then rm -f ${dir}/cut-copy; head -c "$half" "$1"; kill -9 $$; fi
  if [ -f ${dir}/slow-copy ]; then rm -f ${dir}/slow-copy; head -c "$half" "$1"; sleep 20; exit 1; fi ;;
esac
exec /bin/cat "$@"
`,
      {mode: 0o755},
    )
  }

  beforeAll(async () => {
    dir = tempDir('kp-backup-')
    chmodSync(dir, 0o755)
    users = createUsers()
    const bin = path.join(dir, 'bin')
    writeFileSync(`/etc/sudoers.d/${users.sudoer}-path`, `Defaults:${users.sudoer} secure_path="${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n`, {mode: 0o440})
    mkdirSync('/var/lib/etcd', {recursive: true})
    foreign = remoteLeftovers()
    makeEtcdPki(pki())
    clientPort = await freePort()
    peerPort = await freePort()
    makeDoubles(bin)
    await startEtcd()
    for (let i = 0; i < 50; i++) etcdctl('put', `/registry/configmaps/default/cm${i}`, JSON.stringify({data: {i: String(i)}, kind: 'ConfigMap'}))
    sshd = new Sshd({dir: path.join(dir, 'node')})
    await sshd.start()
    const api = await startTestKube({}, path.join(dir, 'api'))
    kube = api.kube
    kube.seedDemo({nodes: ['cp1', 'w1']})
    await settled(kube)
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster: {name: bk, kubernetesVersion: 1.31.9, controlPlaneEndpoint: 127.0.0.1, kubeconfig: ${api.kubeconfig}, cni: {manifest: https://example.invalid/cni.yaml}}
network: {gateway: 127.0.0.254, prefix: 8, dns: [127.0.0.254]}
ssh: {user: ${users.sudoer}, port: ${sshd.port}, agent: false, identityFile: ${sshd.clientKey}}
nodes:
  - {name: cp1, role: control-plane, vmid: 201, ip: 127.0.0.1}
  - {name: w1, role: worker, vmid: 211, ip: 127.0.0.2}
backup: {keep: 2}
`,
    )
  }, 120_000)

  afterAll(async () => {
    await stopEtcd()
    await kube?.close()
    await sshd?.stop()
    if (users) rmSync(`/etc/sudoers.d/${users.sudoer}-path`, {force: true})
    users?.remove()
    // Only what this test's runs left (none, when kp did its job).
    for (const f of existsSync('/var/lib/etcd') ? remoteLeftovers() : []) if (!foreign.includes(f)) rmSync(path.join('/var/lib/etcd', f), {force: true})
  })

  /** `kp resume` finishes the run: one backup more, verified, and nothing partial left. */
  async function resumeToOneNewBackup(before: string[]): Promise<void> {
    const resumed = await kp(['resume'])
    expect(resumed.code, resumed.stderr).toBe(0)
    const added = dbs().filter((f) => !before.includes(f))
    expect(added).toHaveLength(1)
    expect((await kp(['backup', 'verify', path.join(backups(), added[0]!)])).code).toBe(0)
    expect(leftovers()).toEqual([])
  }

  it('--dry-run names the member it would use and changes nothing', async () => {
    const result = await kp(['backup', 'etcd', '--dry-run', '--accept-new-host-keys'])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/would save an etcd snapshot on cp1/)
    expect(existsSync(backups())).toBe(false)
  }, 120_000)

  it('writes the snapshot and its sidecar, the SHA-256 equal to the node’s; verify passes, then fails on one flipped byte', async () => {
    const before = remoteLeftovers()
    const result = await kp(['backup', 'etcd', '--json'])
    expect(result.code, result.stderr + result.stdout).toBe(0)
    const [db] = dbs()
    expect(dbs()).toHaveLength(1)
    expect(db).toMatch(/^\d{8}T\d{6}Z-cp1\.db$/)
    const file = path.join(backups(), db!)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const sidecar = JSON.parse(readFileSync(file.replace(/\.db$/, '.json'), 'utf8')) as Record<string, unknown>
    expect(sidecar).toMatchObject({cluster: 'bk', etcdVersion: '3.4.23', file: db, kind: 'kp-etcd-backup', kubernetesVersion: '1.31.8', node: 'cp1', size: statSync(file).size})
    expect(sidecar.totalKeys).toBeGreaterThanOrEqual(50)
    // The node's own sha256sum, from the run log (the snapshot is gone from the node now).
    const logs = readdirSync(stateDir(), {recursive: true, encoding: 'utf8'}).filter((f) => f.endsWith('run.log'))
    const log = logs.map((f) => readFileSync(path.join(stateDir(), f), 'utf8')).join('\n')
    const nodeSum = /\| ([0-9a-f]{64}) {2}\/var\/lib\/etcd\/kp-backup-/.exec(log)?.[1]
    expect(nodeSum).toBe(sha256(file))
    expect(sidecar.sha256).toBe(sha256(file))
    expect(remoteLeftovers()).toEqual(before)
    expect(leftovers()).toEqual([])

    const verified = await kp(['backup', 'verify', file])
    expect(verified.code, verified.stderr).toBe(0)
    const list = await kp(['backup', 'list', '--json'])
    expect((JSON.parse(list.stdout) as {result: Array<{verified: boolean}>}).result.map((r) => r.verified)).toEqual([true])

    const bytes = readFileSync(file)
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01
    writeFileSync(file, bytes)
    const broken = await kp(['backup', 'verify', file])
    expect(broken.code).toBe(1)
    expect(broken.stderr).toContain(`${file} is not a sound etcd backup`)
    rmSync(file)
    rmSync(file.replace(/\.db$/, '.json'))
  }, 120_000)

  it('retention keeps exactly N of kp’s backups of this cluster and never a file kp did not write', async () => {
    mkdirSync(backups(), {recursive: true})
    writeFileSync(path.join(backups(), '20200101T000000Z-cp1.db'), 'not kp’s')
    // Another cluster's backup in the same folder (as --output allows): not this cluster's to count or delete.
    const other = '20200101T000000Z-cp9.db'
    const otherBytes = readFileSync(path.join(repoRoot, 'test', 'fixtures', 'etcd', 'snapshot.db'))
    writeFileSync(path.join(backups(), other), otherBytes)
    writeFileSync(path.join(backups(), '20200101T000000Z-cp9.json'), JSON.stringify({
      cluster: 'other', createdAt: '2020-01-01T00:00:00.000Z', dbSize: 24_576, etcdVersion: '3.4.23', file: other, format: 1, kind: 'kp-etcd-backup', kpVersion: '0.1.0',
      kubernetesVersion: '1.31.9', node: 'cp9', revision: 2, runId: 'elsewhere', sha256: sha256(path.join(backups(), other)), size: otherBytes.length, snapshotHash: 1, totalKeys: 5,
    }))
    for (let i = 0; i < 4; i++) {
      const result = await kp(['backup', 'etcd'])
      expect(result.code, result.stderr).toBe(0)
      // Distinct second-resolution names.
      await new Promise((resolve) => setTimeout(resolve, 1100))
    }

    const ours = () => dbs().filter((f) => !f.startsWith('20200101T'))
    expect(ours()).toHaveLength(2)
    expect(existsSync(path.join(backups(), '20200101T000000Z-cp1.db'))).toBe(true)
    expect(existsSync(path.join(backups(), other))).toBe(true)
    const three = await kp(['backup', 'etcd', '--keep', '3'])
    expect(three.code, three.stderr).toBe(0)
    expect(ours()).toHaveLength(3)
    rmSync(path.join(backups(), other))
    rmSync(path.join(backups(), '20200101T000000Z-cp9.json'))
  }, 180_000)

  it('a copy cut half-way leaves no partial file, and kp resume completes', async () => {
    const before = dbs()
    writeFileSync(path.join(dir, 'cut-copy'), '')
    const cut = await kp(['backup', 'etcd', '--keep', '10'])
    expect(cut.code, cut.stderr).toBe(1)
    expect(cut.stderr).toMatch(/nothing was kept/)
    expect(dbs()).toEqual(before)
    expect(leftovers()).toEqual([])

    await resumeToOneNewBackup(before)
  }, 180_000)

  it('kill -9 during the copy, then kp resume: one complete, verified file and no partial one', async () => {
    const before = dbs()
    writeFileSync(path.join(dir, 'slow-copy'), '')
    const {child, done} = spawnKp(['backup', 'etcd', '--keep', '10', '-c', config, '--state-dir', stateDir()], {env: {HOME: dir}})
    // Wait until half the snapshot is in the .part file, then kill kp as a power cut would.
    for (let i = 0; i < 300 && !leftovers().some((f) => f.endsWith('.part') && statSync(path.join(backups(), f)).size > 0); i++) await new Promise((resolve) => setTimeout(resolve, 100))
    expect(leftovers().some((f) => f.endsWith('.part'))).toBe(true)
    child.kill('SIGKILL')
    await done

    await resumeToOneNewBackup(before)
  }, 180_000)

  it.skipIf(noTmpfs)('a full laptop disk leaves nothing in the folder; kp resume finishes once there is room', async () => {
    const full = path.join(dir, 'full')
    mkdirSync(full)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16k,mode=0700', 'tmpfs', full])
    try {
      const result = await kp(['backup', 'etcd', '--output', full])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(`nothing was kept under ${full}`)
      expect(result.stderr).toContain('The laptop disk is full')
      expect(readdirSync(full)).toEqual([])
    } finally {
      execFileSync('umount', [full])
    }

    // The same folder, now on the roomy disk below the mount.
    const resumed = await kp(['resume'])
    expect(resumed.code, resumed.stderr).toBe(0)
    const written = readdirSync(full).sort()
    expect(written).toHaveLength(2)
    expect((await kp(['backup', 'verify', path.join(full, written[0]!)])).code).toBe(0)
  }, 120_000)

  it('a member on a cordoned node is skipped as under maintenance; --node uses it anyway', async () => {
    expect((await kp(['node', 'cordon', 'cp1'])).code).toBe(0)
    try {
      const skipped = await kp(['backup', 'etcd', '--dry-run'])
      expect(skipped.code).toBe(1)
      expect(skipped.stderr).toContain('no healthy etcd member to take a snapshot from: cp1: cordoned — its node is cordoned: under maintenance')
      expect(skipped.stderr).toContain('name it with --node to use it anyway')
      const forced = await kp(['backup', 'etcd', '--dry-run', '--node', 'cp1'])
      expect(forced.code, forced.stderr).toBe(0)
      expect(forced.stdout).toContain('would save an etcd snapshot on cp1')
      const worker = await kp(['backup', 'etcd', '--dry-run', '--node', 'w1'])
      expect(worker.code).toBe(2)
      expect(worker.stderr).toContain('--node w1 is not a control plane of kp.yaml; its control planes are cp1')
    } finally {
      expect((await kp(['node', 'uncordon', 'cp1'])).code).toBe(0)
    }
  }, 120_000)

  it('no healthy member: exit 1 naming each member with its state, and the API calling it Ready', async () => {
    await stopEtcd()
    const result = await kp(['backup', 'etcd'])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('no healthy etcd member to take a snapshot from: cp1: not running — no etcd container is running there (crictl ps)')
    expect(result.stderr).toContain('the API reports its pod etcd-cp1 Ready, yet etcdctl on cp1 cannot use it')
  }, 120_000)
})
