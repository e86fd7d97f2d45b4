/**
 * The real etcd of the lab's control planes: kp bootstraps 3 control planes, then the checks go
 * through the path kp uses on a real node — `crictl ps --name etcd -q` and `crictl exec ID
 * etcdctl …` over SSH, the real etcdctl talking TLS to the real members with the certificates
 * kubeadm wrote — and through `kp lab status|fault`. Then kp's own use of it, as an operator runs
 * it: `kp backup etcd` (verify, retention, another member while one is down, kill -9 at random
 * moments then `kp resume`), `kp health`'s etcd check, and `kp backup restore` bringing back a
 * deleted ConfigMap, seen by the real kubectl. Needs root.
 */
import {execFile} from 'node:child_process'
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {parse as parseYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import type {LabStatusResult} from '../../../src/lib/lab/cli/inspect.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from '../host/helpers.js'
import {KUBECTL} from '../kube/helpers.js'

if (!isRoot) console.warn('test/lab/kubeadm/etcd.test.ts: skipped, the lab needs root')

const CPS = {cp1: '10.77.0.11', cp2: '10.77.0.12', cp3: '10.77.0.13'} as const
const TLS = '--endpoints=https://127.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key'
const started = Date.now()

describe.skipIf(!isRoot)('the real etcd of the lab control planes', () => {
  const state = tempDir('kp-etcd-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], timeoutMs = 900_000) => runKp([...args, '--state-dir', state, '--config', config], {timeoutMs})
  let ssh: SshClient
  const etcdId = async (ip: string) => (await ssh.ok(ip, 'sudo crictl ps --name etcd --state running -q')).trim()
  const etcdctl = async (ip: string, args: string) => ssh.run(ip, `sudo crictl exec "$(sudo crictl ps --name etcd -q)" etcdctl ${TLS} ${args}`, {timeoutMs: 30_000})
  const status = async () => parseEnvelope<LabStatusResult>((await kp(['lab', 'status', '--json'])).stdout).result!
  const members = async () => (await status()).etcd!.clusters[0]!.members
  const backups = path.join(state, 'clusters', 'lab', 'backups')
  const dbFiles = () => readdirSync(backups).filter((f) => f.endsWith('.db')).sort()
  const sidecar = (db: string) => JSON.parse(readFileSync(path.join(backups, db.replace(/\.db$/, '.json')), 'utf8')) as {node: string; revision: number; sha256: string; size: number}
  const kubectl = (args: string[]) =>
    new Promise<{code: number; stderr: string; stdout: string}>((resolve) => {
      execFile(KUBECTL ?? 'kubectl', ['--kubeconfig', path.join(state, 'clusters', 'lab', 'admin.conf'), ...args], {encoding: 'utf8', timeout: 60_000}, (error, stdout, stderr) => {
        resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr, stdout})
      })
    })

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', '3', '--control-planes', '3', '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 20 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
  }, 40 * 60_000)

  afterAll(async () => {
    console.log(`etcd-lab: ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('runs one member per control plane, exactly as its manifest says, reachable only through crictl exec', async () => {
    for (const [name, ip] of Object.entries(CPS)) {
      expect(await etcdId(ip), name).toMatch(/^[0-9a-f]{64}$/)
      const manifest = parseYaml(await ssh.ok(ip, 'sudo cat /etc/kubernetes/manifests/etcd.yaml')) as {spec: {containers: Array<{command: string[]}>}}
      const argv = (await ssh.ok(ip, 'sudo cat /proc/"$(pgrep -x etcd)"/cmdline')).split('\0').slice(0, -1)
      expect(argv, name).toEqual(manifest.spec.containers[0]!.command)
      if (name !== 'cp1') expect(argv).toContain('--initial-cluster-state=existing')
    }

    const list = await etcdctl(CPS.cp2, 'member list')
    expect(list.code, list.stderr).toBe(0)
    const rows = list.stdout.trim().split('\n').map((l) => l.split(', ').slice(1, 5).join(' ')).sort()
    expect(rows).toEqual(Object.entries(CPS).map(([name, ip]) => `started ${name} https://${ip}:2380 https://${ip}:2379`))
    const health = await etcdctl(CPS.cp3, 'endpoint health')
    expect(health.code, health.stderr).toBe(0)
    // etcdctl 3.4 writes the health lines to stderr.
    expect(health.stdout + health.stderr).toMatch(/^https:\/\/127\.0\.0\.1:2379 is healthy: successfully committed proposal/)

    // A snapshot written under the hostPath mount is on the node; etcdctl is not on the node's PATH.
    const snapshot = await etcdctl(CPS.cp1, 'snapshot save /var/lib/etcd/kp-test.db')
    expect(snapshot.code, snapshot.stderr).toBe(0)
    expect(await ssh.ok(CPS.cp1, 'sudo stat -c %s /var/lib/etcd/kp-test.db && sudo rm /var/lib/etcd/kp-test.db')).toMatch(/^\d{4,}\n$/)
    expect((await ssh.run(CPS.cp1, 'sudo sh -c "command -v etcdctl"')).code).not.toBe(0)
    const shell = await ssh.run(CPS.cp1, `sudo crictl exec ${await etcdId(CPS.cp1)} sh -c true`)
    expect(shell.code).toBe(1)
    expect(shell.stderr).toContain('exec: \\"sh\\": executable file not found in $PATH')
    const unknown = await ssh.run(CPS.cp1, 'sudo crictl exec 0123456789ab etcdctl version')
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('an error occurred when try to find container \\"0123456789ab\\": not found')
    expect((await ssh.run(CPS.cp1, 'crictl ps')).code).toBe(1)

    const members = (await status()).etcd!.clusters[0]!
    expect(members.members.map((m) => [m.name, m.healthy, m.peerURL])).toEqual(Object.entries(CPS).map(([name, ip]) => [name, true, `https://${ip}:2380`]))
    expect(Object.keys(CPS)).toContain(members.leader)
  })

  it('kp lab fault --etcd-down stops a member and keeps it down; 2 of 3 still serve; --etcd-up brings it back', async () => {
    expect((await kp(['lab', 'fault', 'cp1', '--etcd-down'])).code).toBe(0)
    await until('cp1 unhealthy', async () => (await members()).find((m) => m.name === 'cp1')?.healthy === false, 30_000)
    // The lab kubelet does not start it again while the fault is set.
    await new Promise((resolve) => setTimeout(resolve, 3000))
    expect(await etcdId(CPS.cp1)).toBe('')
    expect((await members()).filter((m) => m.healthy).map((m) => m.name)).toEqual(['cp2', 'cp3'])
    const put = await etcdctl(CPS.cp2, 'put kp-test quorum')
    expect(put.code, put.stderr).toBe(0)
    const text = await kp(['lab', 'status'])
    expect(text.stdout).toMatch(/cp1 +NO +- +https:\/\/10\.77\.0\.11:2380/)

    expect((await kp(['lab', 'fault', 'cp1', '--etcd-up'])).code).toBe(0)
    await until('cp1 healthy again', async () => (await members()).every((m) => m.healthy), 60_000)
    expect((await etcdctl(CPS.cp1, 'get kp-test --print-value-only')).stdout.trim()).toBe('quorum')
  })

  it('a manifest moved out of the folder stops the member, moved back starts it; a reboot restarts it', async () => {
    await ssh.ok(CPS.cp2, 'sudo mv /etc/kubernetes/manifests/etcd.yaml /etc/kubernetes/etcd.yaml')
    await until('cp2 etcd stopped', async () => (await etcdId(CPS.cp2)) === '', 30_000)
    await ssh.ok(CPS.cp2, 'sudo mv /etc/kubernetes/etcd.yaml /etc/kubernetes/manifests/etcd.yaml')
    await until('cp2 healthy again', async () => (await members()).every((m) => m.healthy), 60_000)
    const before = await etcdId(CPS.cp2)
    expect((await ssh.run(CPS.cp2, 'sudo reboot')).code).toBe(255)
    await until('cp2 down', async () => (await ssh.run(CPS.cp2, 'true', {timeoutMs: 10_000})).code !== 0, 10_000)
    await ssh.waitUp(CPS.cp2, 60_000)
    await until('cp2 healthy after the reboot', async () => (await members()).every((m) => m.healthy), 60_000)
    expect(await etcdId(CPS.cp2)).not.toBe(before)
  })

  it('kp backup etcd: a verified snapshot and sidecar on the laptop; verify fails on one flipped byte; retention keeps exactly N', async () => {
    for (let i = 0; i < 3; i++) {
      const backup = await kp(['backup', 'etcd', '--keep', '2'])
      expect(backup.code, backup.stderr + backup.stdout).toBe(0)
    }

    const files = dbFiles()
    expect(files).toHaveLength(2)
    const newest = path.join(backups, files.at(-1)!)
    const meta = sidecar(files.at(-1)!)
    expect(createHash('sha256').update(readFileSync(newest)).digest('hex')).toBe(meta.sha256)
    expect(readFileSync(newest).length).toBe(meta.size)
    expect(Object.keys(CPS)).toContain(meta.node)
    // Nothing left on the member: the temporary snapshot is removed after the copy.
    expect((await ssh.ok(CPS[meta.node as keyof typeof CPS], 'sudo ls /var/lib/etcd')).trim()).toBe('member')
    expect((await kp(['backup', 'verify', newest])).code).toBe(0)

    const damaged = path.join(backups, files[0]!)
    const bytes = readFileSync(damaged)
    const middle = Math.floor(bytes.length / 2)
    bytes[middle] = bytes[middle]! ^ 0x01
    writeFileSync(damaged, bytes)
    const verify = await kp(['backup', 'verify', damaged])
    expect(verify.code).toBe(1)
    expect(verify.stderr).toContain(damaged)
    const list = parseEnvelope<Array<{file: string; verified: boolean}>>((await kp(['backup', 'list', '--json'])).stdout).result!
    expect(list.map((r) => [path.basename(r.file), r.verified]).sort()).toEqual([[files[0], false], [files[1], true]])
  })

  it('with a member down, kp backup etcd uses another and kp health says WARNING; with two down, CRITICAL (quorum lost)', async () => {
    expect((await kp(['lab', 'fault', 'cp1', '--etcd-down'])).code).toBe(0)
    await until('cp1 unhealthy', async () => (await members()).find((m) => m.name === 'cp1')?.healthy === false, 30_000)
    const before = new Set(dbFiles())
    const backup = await kp(['backup', 'etcd', '--keep', '10'])
    expect(backup.code, backup.stderr + backup.stdout).toBe(0)
    const made = dbFiles().filter((f) => !before.has(f))
    expect(made).toHaveLength(1)
    expect(sidecar(made[0]!).node).not.toBe('cp1')
    const forced = await kp(['backup', 'etcd', '--node', 'cp1'])
    expect(forced.code).toBe(1)
    expect(forced.stderr).toContain('cp1')

    const warning = await until('kp health etcd WARNING', async () => {
      const health = await kp(['health', '--check', 'etcd'])
      return health.code === 1 ? health : undefined
    }, 30_000)
    expect(warning.stdout).toMatch(/2 of 3/)
    // --deep asks every member over SSH, through the same crictl exec: cp1 named, with why.
    const deep = await kp(['health', '--check', 'etcd', '--deep', '--output', 'json'])
    expect(deep.code, deep.stdout + deep.stderr).toBe(1)
    const etcdCheck = (JSON.parse(deep.stdout) as {checks: Array<{details: string[]; name: string; reason: string}>}).checks[0]!
    expect(etcdCheck.reason + etcdCheck.details.join('\n')).toMatch(/cp1: no running etcd container/)

    expect((await kp(['lab', 'fault', 'cp2', '--etcd-down'])).code).toBe(0)
    const critical = await until('kp health etcd CRITICAL', async () => {
      const health = await kp(['health', '--check', 'etcd'])
      return health.code === 2 ? health : undefined
    }, 60_000)
    expect(critical.stdout).toMatch(/etcd/)
    const none = await kp(['backup', 'etcd'])
    expect(none.code).toBe(1)

    expect((await kp(['lab', 'fault', 'cp1', '--etcd-up'])).code).toBe(0)
    expect((await kp(['lab', 'fault', 'cp2', '--etcd-up'])).code).toBe(0)
    await until('every member healthy again', async () => (await members()).every((m) => m.healthy), 90_000)
    await until('kp health etcd OK', async () => (await kp(['health', '--check', 'etcd'])).code === 0, 60_000)
    const deepOk = await kp(['health', '--check', 'etcd', '--deep', '--output', 'prometheus'])
    expect(deepOk.code, deepOk.stdout + deepOk.stderr).toBe(0)
    expect(deepOk.stdout).toMatch(/^kp_etcd_members_healthy\{cluster="lab"\} 3$/m)
    // The quota comes from each member's manifest (kubeadm sets none: etcd's 2 GiB).
    expect(deepOk.stdout).toMatch(/^kp_etcd_db_quota_bytes\{cluster="lab",member="cp1"\} 2147483648$/m)
  }, 5 * 60_000)

  it('kp backup etcd killed -9 at random moments, then kp resume: one complete, verified file each time, nothing partial', async () => {
    for (const delayMs of [400 + Math.floor(Math.random() * 800), 1200 + Math.floor(Math.random() * 1200)]) {
      const before = new Set(dbFiles())
      const {child, done} = spawnKp(['backup', 'etcd', '--keep', '10', '--state-dir', state, '--config', config])
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      child.kill('SIGKILL')
      const killed = await done
      if (killed.code !== 0) {
        const resume = await kp(['resume', '--yes'])
        expect(resume.code, `killed after ${delayMs} ms: ${resume.stderr}${resume.stdout}`).toBe(0)
      }

      const made = dbFiles().filter((f) => !before.has(f))
      expect(made, `killed after ${delayMs} ms`).toHaveLength(1)
      expect((await kp(['backup', 'verify', path.join(backups, made[0]!)])).code).toBe(0)
      expect(readdirSync(backups).filter((f) => f.startsWith('.'))).toEqual([])
    }

    // No snapshot left behind on any member.
    for (const ip of Object.values(CPS)) expect((await ssh.ok(ip, 'sudo ls /var/lib/etcd')).trim()).toBe('member')
  }, 5 * 60_000)

  it('kp backup restore: a ConfigMap deleted after the backup is back, every member healthy, the API answering', async () => {
    expect((await kubectl(['create', 'configmap', 'kp-restore-proof', '--from-literal=at=backup'])).code).toBe(0)
    const before = new Set(dbFiles())
    expect((await kp(['backup', 'etcd'])).code).toBe(0)
    const file = path.join(backups, dbFiles().find((f) => !before.has(f))!)
    const removed = await kubectl(['delete', 'configmap', 'kp-restore-proof'])
    expect(removed.code, removed.stderr).toBe(0)
    expect((await kubectl(['get', 'configmap', 'kp-restore-proof'])).code).toBe(1)

    // Without a terminal and without --yes it refuses, changing nothing.
    const refused = await kp(['backup', 'restore', file])
    expect(refused.code).toBe(4)
    const restore = await kp(['backup', 'restore', file, '--yes'], 15 * 60_000)
    expect(restore.code, restore.stderr + restore.stdout).toBe(0)

    const got = await kubectl(['get', 'configmap', 'kp-restore-proof', '-o', 'jsonpath={.data.at}'])
    expect(got.code, got.stderr).toBe(0)
    expect(got.stdout).toBe('backup')
    await until('every member healthy after the restore', async () => (await members()).every((m) => m.healthy), 60_000)
    const list = await etcdctl(CPS.cp1, 'member list')
    expect(list.stdout.trim().split('\n').map((l) => l.split(', ')[2]).sort()).toEqual(['cp1', 'cp2', 'cp3'])
    // The old data is kept beside, the copies are gone, the manifests are back.
    for (const ip of Object.values(CPS)) {
      expect((await ssh.ok(ip, 'sudo ls /var/lib/etcd')).trim()).toBe('member')
      expect((await ssh.ok(ip, 'sudo ls /etc/kubernetes/manifests')).trim().split('\n').sort()).toEqual(['etcd.yaml', 'kube-apiserver.yaml', 'kube-controller-manager.yaml', 'kube-scheduler.yaml'])
      expect((await ssh.ok(ip, 'sudo sh -c "ls -d /var/lib/etcd-before-restore-*/member"')).trim()).toMatch(/member$/)
    }

    expect((await kp(['health', '--check', 'etcd,api,nodes'])).code).toBe(0)
  }, 15 * 60_000)

  it('kubeadm reset -f on cp3 removes its member: 2 are left', async () => {
    const reset = await ssh.run(CPS.cp3, 'sudo kubeadm reset -f', {timeoutMs: 120_000})
    expect(reset.code, reset.stderr + reset.stdout).toBe(0)
    expect(reset.stderr).not.toContain('Failed to remove etcd member')
    expect((await ssh.run(CPS.cp3, 'pgrep -x etcd')).code).toBe(1)
    expect((await ssh.ok(CPS.cp3, 'sudo ls -A /var/lib/etcd 2>/dev/null || true')).trim()).toBe('')
    const list = await etcdctl(CPS.cp1, 'member list')
    expect(list.code, list.stderr).toBe(0)
    expect(list.stdout.trim().split('\n').map((l) => l.split(', ')[2]).sort()).toEqual(['cp1', 'cp2'])
  })
})
