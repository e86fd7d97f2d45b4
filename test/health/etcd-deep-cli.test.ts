/**
 * `kp health --deep --check etcd` end to end: the built CLI, one real OpenSSH server listening on
 * 127.0.0.1, .2 and .3 as the control planes cp1, cp2 and cp3, and a real 3-member etcd 3.4
 * cluster on loopback (TLS and client-certificate auth for clients). On the "nodes", a crictl
 * double first on the sudo PATH tells the node by the address the SSH client reached
 * (SSH_CONNECTION, kept through sudo): `ps` prints a container id while that node's etcd runs,
 * `exec ID etcdctl …` runs the real /usr/bin/etcdctl against that member with kubeadm's
 * certificate paths mapped to the test's. A `cat` double serves each node's etcd manifest (cp2's
 * sets --quota-backend-bytes, the others leave etcd's default). The Kubernetes API is the lab's
 * fake with the three control planes, whose etcd pods stay Ready whatever the test stops.
 */
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, rmSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {parseEndpointStatus} from '../../src/lib/etcd/parse.js'
import type {FakeKube} from '../../src/lib/lab/kube/index.js'
import {crictlDouble, makeEtcdPki, stopChild} from '../etcd/helpers.js'
import {runKp, tempDir} from '../helpers/cli.js'
import {startTestKube} from '../lab/kube/helpers.js'
import {cannotRunSshd, createUsers, freePort, hasSudo, Sshd, sudoPathFirst, type TestUsers} from '../ssh/sshd.js'
import {parseReport, settled} from './helpers.js'

const skip = cannotRunSshd() ?? (hasSudo ? undefined : 'needs sudo') ?? (existsSync('/usr/bin/etcd') && existsSync('/usr/bin/etcdctl') ? undefined : 'needs /usr/bin/etcd and /usr/bin/etcdctl (etcd-server, etcd-client)')
if (skip) console.warn(`skipping the kp health --deep etcd test: ${skip}`)

const NODES = ['cp1', 'cp2', 'cp3'] as const
const ipOf = (i: number) => `127.0.0.${i + 1}`

describe.skipIf(skip)('kp health --deep --check etcd against a real 3-member etcd over a real sshd', () => {
  let dir: string
  let users: TestUsers
  let sshd: Sshd
  let kube: FakeKube | undefined
  let config: string
  const etcds = new Map<string, ChildProcess>()
  const clientPorts: number[] = []
  const peerPorts: number[] = []
  const pki = () => path.join(dir, 'pki', 'etcd')
  const kp = (args: string[]) => runKp(['health', '--deep', '--check', 'etcd', ...args, '-c', config, '--state-dir', path.join(dir, 'state')], {env: {HOME: dir}, timeoutMs: 60_000})
  const deep = async () => {
    const result = await kp(['--output', 'json'])
    const check = parseReport(result).checks.find((c) => c.name === 'etcd')!
    return {check, code: result.code}
  }
  const etcdctl = (i: number, ...args: string[]) =>
    execFileSync('/usr/bin/etcdctl', [`--endpoints=https://127.0.0.1:${clientPorts[i]}`, `--cacert=${pki()}/ca.crt`, `--cert=${pki()}/healthcheck-client.crt`, `--key=${pki()}/healthcheck-client.key`, ...args], {
      encoding: 'utf8',
      env: {...process.env, ETCDCTL_API: '3'},
      stdio: ['ignore', 'pipe', 'ignore'],
    })

  async function until(what: string, ok: () => boolean): Promise<void> {
    for (let i = 0; i < 150; i++) {
      try {
        if (ok()) return
      } catch {
        // not yet
      }

      await new Promise((resolve) => setTimeout(resolve, 100))
    }

    throw new Error(`timed out waiting for ${what}`)
  }

  function startMember(i: number): void {
    const name = NODES[i]!
    const cluster = NODES.map((n, j) => `${n}=http://127.0.0.1:${peerPorts[j]}`).join(',')
    const child = spawn('/usr/bin/etcd', [
      '--name', name, '--data-dir', path.join(dir, `etcd-${name}`),
      '--listen-client-urls', `https://127.0.0.1:${clientPorts[i]}`, '--advertise-client-urls', `https://127.0.0.1:${clientPorts[i]}`,
      '--listen-peer-urls', `http://127.0.0.1:${peerPorts[i]}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peerPorts[i]}`,
      '--initial-cluster', cluster, '--initial-cluster-state', 'new',
      '--cert-file', `${pki()}/server.crt`, '--key-file', `${pki()}/server.key`, '--trusted-ca-file', `${pki()}/ca.crt`, '--client-cert-auth',
    ], {stdio: 'ignore'})
    etcds.set(name, child)
    writeFileSync(path.join(dir, `etcd-${name}.pid`), String(child.pid))
  }

  async function stopMember(name: string): Promise<void> {
    const child = etcds.get(name)
    etcds.delete(name)
    await stopChild(child)
  }

  function makeDoubles(bin: string): void {
    mkdirSync(bin, {recursive: true})
    const node = `case "$(echo "$SSH_CONNECTION" | cut -d' ' -f3)" in ${NODES.map((n, i) => `${ipOf(i)}) node=${n}; port=${clientPorts[i]} ;;`).join(' ')} *) echo "no node at $SSH_CONNECTION" >&2; exit 2 ;; esac`
    writeFileSync(
      path.join(bin, 'crictl'),
      crictlDouble({clientPort: '$port', pidFile: `${dir}/etcd-$node.pid`, pki: pki(), prelude: node}),
      {mode: 0o755},
    )
    writeFileSync(
      path.join(bin, 'cat'),
      `#!/bin/bash
${node}
[ "$1" = /etc/kubernetes/manifests/etcd.yaml ] && set -- ${dir}/manifests/$node.yaml
exec /bin/cat "$@"
`,
      {mode: 0o755},
    )
    mkdirSync(path.join(dir, 'manifests'))
    writeFileSync(path.join(dir, 'manifests', 'cp1.yaml'), 'spec:\n  containers:\n  - command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n')
    writeFileSync(path.join(dir, 'manifests', 'cp2.yaml'), 'spec:\n  containers:\n  - command:\n    - etcd\n    - --quota-backend-bytes=8589934592\n')
    // cp3 has no manifest: etcd's 2 GiB default.
  }

  beforeAll(async () => {
    dir = tempDir('kp-health-deep-')
    chmodSync(dir, 0o755)
    users = createUsers()
    const bin = path.join(dir, 'bin')
    sudoPathFirst(users.sudoer, bin)
    makeEtcdPki(pki())
    for (const _ of NODES) {
      clientPorts.push(await freePort())
      peerPorts.push(await freePort())
    }

    makeDoubles(bin)
    for (let i = 0; i < NODES.length; i++) startMember(i)
    await until('the three members to be healthy', () => NODES.every((_, i) => etcdctl(i, 'endpoint', 'health', '-w', 'json').includes('"health":true')))
    sshd = new Sshd({dir: path.join(dir, 'node'), listenAddresses: NODES.map((_, i) => ipOf(i))})
    await sshd.start()
    // kp health never accepts a new host key: the operator's known_hosts already holds the nodes'.
    const {key, type} = sshd.hostKey
    mkdirSync(path.join(dir, '.ssh'), {mode: 0o700})
    writeFileSync(path.join(dir, '.ssh', 'known_hosts'), NODES.map((_, i) => `[${ipOf(i)}]:${sshd.port} ${type} ${key}\n`).join(''))
    const api = await startTestKube({}, path.join(dir, 'api'))
    kube = api.kube
    kube.seedDemo({nodes: ['cp1', 'w1']})
    kube.registerNode('cp2', {controlPlane: true})
    kube.registerNode('cp3', {controlPlane: true})
    await settled(kube)
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster: {name: deep, kubernetesVersion: 1.31.8, controlPlaneEndpoint: 127.0.0.1, kubeconfig: ${api.kubeconfig}, cni: {manifest: https://example.invalid/cni.yaml}}
network: {gateway: 127.0.0.254, prefix: 8, dns: [127.0.0.254]}
ssh: {user: ${users.sudoer}, port: ${sshd.port}, agent: false, identityFile: ${sshd.clientKey}}
nodes:
${NODES.map((n, i) => `  - {name: ${n}, role: control-plane, vmid: ${201 + i}, ip: ${ipOf(i)}}`).join('\n')}
  - {name: w1, role: worker, vmid: 211, ip: 127.0.0.9}
`,
    )
  }, 120_000)

  afterAll(async () => {
    for (const name of [...etcds.keys()]) await stopMember(name)
    await kube?.close()
    await sshd?.stop()
    if (users) rmSync(`/etc/sudoers.d/${users.sudoer}-path`, {force: true})
    users?.remove()
  })

  it('three healthy members: OK, one SSH connection per control plane, a line and metrics per member', async () => {
    const before = sshd.connections
    const {check, code} = await deep()
    expect(code, JSON.stringify(check)).toBe(0)
    expect(check.status).toBe('OK')
    const leaderId = parseEndpointStatus(etcdctl(0, 'endpoint', 'status', '-w', 'json')).leader
    const leader = NODES.find((_, i) => parseEndpointStatus(etcdctl(i, 'endpoint', 'status', '-w', 'json')).memberId === leaderId)!
    expect(check.reason).toMatch(new RegExp(`^3 of 3 members healthy, leader ${leader}, DB up to \\d+ KiB of 2 GiB \\((cp1|cp3)\\)$`))
    expect(check.details).toHaveLength(3)
    expect(check.details.find((l) => l.startsWith(`${leader}:`))).toMatch(/^cp\d: healthy, leader, db \d+ KiB of [28] GiB/)
    expect(check.details.find((l) => l.startsWith('cp2:'))).toMatch(/of 8 GiB .*raft index \d+, etcd 3\.4\.23$/)
    expect(sshd.connections - before).toBe(3)

    const prom = await kp(['--output', 'prometheus'])
    expect(prom.stdout).toContain('kp_etcd_members{cluster="deep"} 3')
    expect(prom.stdout).toContain('kp_etcd_members_healthy{cluster="deep"} 3')
    expect(prom.stdout).toContain(`kp_etcd_member_leader{cluster="deep",member="${leader}"} 1`)
    expect(prom.stdout).toContain('kp_etcd_db_quota_bytes{cluster="deep",member="cp2"} 8589934592')
    expect(prom.stdout).toContain('kp_etcd_db_quota_bytes{cluster="deep",member="cp3"} 2147483648')
    expect(prom.stdout).toMatch(/^kp_etcd_raft_index\{cluster="deep",member="cp1"\} \d+$/m)
    expect(prom.stdout).toMatch(/^# TYPE kp_etcd_db_size_bytes gauge$/m)
  }, 60_000)

  it('one member stopped while the API still calls its pod Ready: WARNING 2 of 3, naming it and the disagreement', async () => {
    await stopMember('cp2')
    const {check, code} = await deep()
    expect(check.status).toBe('WARNING')
    expect(code).toBe(1)
    expect(check.reason).toBe('2 of 3 members healthy; cp2: no running etcd container; the API reports its pod etcd-cp2 Ready, yet etcdctl on cp2 cannot use it')
    expect(check.details).toContain('cp2: unhealthy (no running etcd container)')
  }, 60_000)

  it('two members stopped: CRITICAL, quorum lost, every member named with why', async () => {
    await stopMember('cp3')
    // The one left notices it lost its peers and drops its leader (an election timeout, about a second).
    await until('cp1 to lose its leader', () => parseEndpointStatus(etcdctl(0, '--command-timeout=2s', 'endpoint', 'status', '-w', 'json')).leader === '0')
    const {check, code} = await deep()
    expect(check.status).toBe('CRITICAL')
    expect(code).toBe(2)
    expect(check.reason).toMatch(/^quorum lost: 0 of 3 members healthy; /)
    expect(check.reason).toContain('cp1: etcdserver: no leader')
    expect(check.reason).toContain('cp2: no running etcd container')
    expect(check.reason).toContain('cp3: no running etcd container')
    expect(check.reason).toContain('no leader: no member that answered knows one')
  }, 60_000)
})
