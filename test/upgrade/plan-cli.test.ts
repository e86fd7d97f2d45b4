/**
 * `kp upgrade plan` end to end: the built CLI against the fake Kubernetes API (cp1 with its static
 * pods' mirror pods, w1, w2 and the demo workloads), a Packages index per minor served on loopback
 * as pkgs.k8s.io lays it out, and a real OpenSSH server on 127.0.18.1-3 as the three nodes, where a
 * dpkg-query double first on the sudo PATH says which kubeadm each node has.
 */
import {chmodSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import type {PlanReport} from '../../src/lib/upgrade/run-plan.js'
import {parseEnvelope, runKp, tempDir} from '../helpers/cli.js'
import {call, startTestKube, type TestKube} from '../lab/kube/helpers.js'
import {cannotRunSshd, createUsers, hasSudo, Sshd, sudoPathFirst, type TestUsers} from '../ssh/sshd.js'

const skip = cannotRunSshd() ?? (hasSudo ? undefined : 'needs sudo')
if (skip) console.warn(`skipping the kp upgrade plan CLI test: ${skip}`)

const NODES = [
  {ip: '127.0.18.1', kubeadm: '1.31.8-1.1', name: 'cp1', role: 'control-plane'},
  {ip: '127.0.18.2', kubeadm: '1.31.8-1.1', name: 'w1', role: 'worker'},
  {ip: '127.0.18.3', kubeadm: '1.31.7-1.1', name: 'w2', role: 'worker'},
] as const
const FPR = '0123456789ABCDEF0123456789ABCDEF01234567'
const INDEX: Record<string, string[]> = {'/v1.31/deb/Packages': ['1.31.7-1.1', '1.31.8-1.1', '1.31.9-1.1'], '/v1.32/deb/Packages': ['1.32.0-1.1', '1.32.3-1.1']}

function packagesIndex(versions: readonly string[]): string {
  return versions.flatMap((v) => ['kubeadm', 'kubelet', 'kubectl'].map((p) => `Package: ${p}\nVersion: ${v}\nArchitecture: amd64\n`)).join('\n')
}

describe.skipIf(skip)('kp upgrade plan', () => {
  let dir: string
  let users: TestUsers
  let sshd: Sshd
  let t: TestKube
  let repo: Server
  let config: string
  const run = (args: string[], file = config) => runKp(['upgrade', 'plan', ...args, '-c', file, '--state-dir', path.join(dir, 'state')], {env: {HOME: dir}, timeoutMs: 60_000})
  const plan = async (args: string[] = [], file = config) => {
    const result = await run([...args, '--json'], file)
    return {code: result.code, report: parseEnvelope<PlanReport>(result.stdout).result!, stderr: result.stderr}
  }

  beforeAll(async () => {
    dir = tempDir('kp-upgrade-plan-')
    chmodSync(dir, 0o755)
    users = createUsers()
    const bin = path.join(dir, 'bin')
    mkdirSync(bin)
    sudoPathFirst(users.sudoer, bin)
    const which = `case "$(echo "$SSH_CONNECTION" | cut -d' ' -f3)" in ${NODES.map((n) => `${n.ip}) printf '${n.kubeadm}' ;;`).join(' ')} *) exit 1 ;; esac`
    writeFileSync(path.join(bin, 'dpkg-query'), `#!/bin/bash\n[ "\${@: -1}" = kubeadm ] || exit 1\n${which}\n`, {mode: 0o755})

    t = await startTestKube({}, dir)
    t.kube.seedDemo({nodes: NODES.map((n) => n.name)})
    repo = createServer((req, res) => {
      const versions = INDEX[req.url ?? '']
      res.writeHead(versions ? 200 : 404).end(versions ? packagesIndex(versions) : 'not found')
    })
    await new Promise<void>((resolve) => repo.listen(0, '127.0.0.1', resolve))

    sshd = new Sshd({dir: path.join(dir, 'sshd'), listenAddresses: ['127.0.0.1', ...NODES.map((n) => n.ip)]})
    await sshd.start()
    const {key, type} = sshd.hostKey
    mkdirSync(path.join(dir, '.ssh'), {mode: 0o700})
    writeFileSync(path.join(dir, '.ssh', 'known_hosts'), NODES.map((n) => `[${n.ip}]:${sshd.port} ${type} ${key}\n`).join(''))
    config = path.join(dir, 'kp.yaml')
    writeFileSync(
      config,
      `cluster:
  name: uptest
  kubernetesVersion: 1.31.8
  controlPlaneEndpoint: 127.0.0.1
  kubeconfig: ${t.kubeconfig}
  cni: {manifest: https://example.invalid/cni.yaml}
packages:
  kubernetesRepoBase: http://127.0.0.1:${(repo.address() as {port: number}).port}
  kubernetesKeyFingerprint: ${FPR}
network:
  gateway: 127.0.0.254
  prefix: 8
  dns: [127.0.0.254]
ssh:
  user: ${users.sudoer}
  port: ${sshd.port}
  agent: false
  identityFile: ${sshd.clientKey}
nodes:
${NODES.map((n, i) => `  - {name: ${n.name}, role: ${n.role}, vmid: ${201 + i}, ip: ${n.ip}}`).join('\n')}
`,
    )
  }, 120_000)

  afterAll(async () => {
    await new Promise((resolve) => repo?.close(resolve))
    await t?.kube.close()
    await sshd?.stop()
    users?.remove()
  })

  it('reads every version, lists the targets, and names the bare pod that can never be evicted: exit 4', async () => {
    const {code, report, stderr} = await plan()
    expect(stderr).toBe('')
    expect(report).toMatchObject({available: ['1.31.7', '1.31.8', '1.31.9', '1.32.0', '1.32.3'], cluster: 'uptest', current: '1.31.8', exitCode: 4, order: ['cp1', 'w1', 'w2'], target: '1.32.3'})
    expect(report.nodes).toEqual([
      {components: {etcd: '3.5.15-0', 'kube-apiserver': '1.31.8', 'kube-controller-manager': '1.31.8', 'kube-scheduler': '1.31.8'}, ip: '127.0.18.1', kubeadm: '1.31.8', kubelet: '1.31.8', name: 'cp1', ready: true, role: 'control-plane'},
      {components: {}, ip: '127.0.18.2', kubeadm: '1.31.8', kubelet: '1.31.8', name: 'w1', ready: true, role: 'worker'},
      {components: {}, ip: '127.0.18.3', kubeadm: '1.31.7', kubelet: '1.31.8', name: 'w2', ready: true, role: 'worker'},
    ])
    expect(report.blockers).toEqual([{
      code: 'pod-not-evictable',
      fix: 'run it under a Deployment or StatefulSet, or delete it: kubectl delete pod -n default debug',
      node: 'w1',
      problem: 'pod default/debug on w1 can never be evicted: it declares no controller, so nothing would re-create it',
    }])
    expect(code).toBe(4)
  })

  it('prints the versions, what kp upgrade cluster would do node by node, and each blocker with its fix', async () => {
    const {code, stdout} = await run([])
    const lines = stdout.split('\n')
    expect(lines[0]).toBe('Cluster uptest: Kubernetes 1.31.8 (the API servers)')
    expect(lines.find((l) => l.startsWith('cp1 '))).toMatch(/^cp1 +control-plane +yes +1\.31\.8 +1\.31\.8 +1\.31\.8 +3\.5\.15-0 +1\.31\.8 +1\.31\.8$/)
    expect(lines.find((l) => l.startsWith('w2 '))).toMatch(/^w2 +worker +yes +- +- +- +- +1\.31\.8 +1\.31\.7$/)
    expect(stdout).toContain('Available in the package repository: 1.31: 1.31.7, 1.31.8, 1.31.9; 1.32: 1.32.0, 1.32.3')
    expect(stdout).toContain('  1. cp1: kubeadm 1.32.3 (unhold, install, hold), kubeadm upgrade plan, kubeadm upgrade apply v1.32.3 --yes, drain, kubelet and kubectl 1.32.3')
    expect(stdout).toContain('  3. w2: kubeadm 1.32.3 (unhold, install, hold), kubeadm upgrade node, drain')
    expect(stdout).toContain('1 blocker: kp upgrade cluster would refuse (exit 4), changing nothing.')
    expect(stdout).toContain('    fix: run it under a Deployment or StatefulSet, or delete it: kubectl delete pod -n default debug')
    expect(code).toBe(4)
  })

  it('--to: a skipped minor, a version the repository lacks, the version it runs', async () => {
    const skipped = await plan(['--to', '1.33.0'])
    expect(skipped.report.blockers.map((b) => b.code)).toEqual(['skips-minor', 'not-in-repository', 'pod-not-evictable'])
    expect(skipped.report.blockers[0]!.problem).toBe('1.33.0 is 2 minors above 1.31.8; kubeadm upgrades one minor at a time')
    const missing = await plan(['--to', '1.32.1'])
    expect(missing.report.blockers[0]).toMatchObject({code: 'not-in-repository', fix: 'choose a version it has: kp upgrade cluster --to 1.32.3'})
    const same = await plan(['--to', 'v1.31.8'])
    expect(same.report.blockers[0]).toMatchObject({code: 'same-or-lower', problem: 'the target 1.31.8 is the version the cluster runs'})
    expect(same.code).toBe(4)
    const bad = await run(['--to', '1.32'])
    expect(bad.stderr).toContain('--to 1.32 is not a Kubernetes version')
    expect(bad.code).toBe(2)
  })

  it('a node not Ready and a scheduler left behind by an unfinished upgrade', async () => {
    const scheduler = (tag: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {labels: {component: 'kube-scheduler', tier: 'control-plane'}, name: 'kube-scheduler', namespace: 'kube-system'},
      spec: {containers: [{command: ['kube-scheduler'], image: `registry.k8s.io/kube-scheduler:${tag}`, name: 'kube-scheduler'}], hostNetwork: true},
    })
    // The kubelet of cp1 runs the new manifest: its mirror pod goes and comes back with the new image.
    const runScheduler = async (tag: string) => {
      t.kube.addStaticPod('cp1', scheduler(tag))
      await call(t.kube, 'DELETE', '/api/v1/namespaces/kube-system/pods/kube-scheduler-cp1?gracePeriodSeconds=0')
      t.kube.tick()
    }

    await runScheduler('v1.31.7')
    t.kube.nodeReady('w2', false)
    try {
      const {code, report} = await plan()
      expect(report.blockers.filter((b) => b.code !== 'pod-not-evictable')).toEqual([
        {code: 'control-plane-differs', fix: 'finish the last upgrade first: kp upgrade cluster --to 1.31.8', problem: 'the control plane runs 1.31.7 and 1.31.8: kube-scheduler 1.31.7 on cp1 is behind 1.31.8'},
        {code: 'node-not-ready', fix: 'make w2 Ready first (kubectl describe node w2; kp health)', node: 'w2', problem: 'w2 is not Ready'},
      ])
      expect(code).toBe(4)
    } finally {
      t.kube.nodeReady('w2', true)
      await runScheduler('v1.31.8')
    }
  })

  it('an etcd member not ready, and a node kp cannot reach over SSH', async () => {
    const unreachable = path.join(dir, 'unreachable.yaml')
    // Nothing listens on 127.0.18.9: w2's SSH connection is refused.
    writeFileSync(unreachable, readFileSync(config, 'utf8').replace('ip: 127.0.18.3', 'ip: 127.0.18.9'))
    t.kube.containerRunning('kube-system', 'etcd-cp1', false)
    try {
      const {code, report} = await plan([], unreachable)
      const blockers = report.blockers.filter((b) => b.code !== 'pod-not-evictable')
      expect(blockers.map((b) => `${b.code}${b.node ? ` ${b.node}` : ''}`)).toEqual(['node-unreachable w2', 'etcd-unhealthy'])
      expect(blockers[0]!.problem).toMatch(/^kp cannot read kubeadm's version on w2: .*127\.0\.18\.9/)
      expect(blockers[0]!.fix).toBe('make kp reach w2 over SSH (kp ssh w2 -- true)')
      expect(blockers[1]!.problem).toMatch(/^etcd is not healthy: 0 of 1 etcd members ready.*etcd-cp1 not ready/)
      expect(code).toBe(4)
    } finally {
      t.kube.containerRunning('kube-system', 'etcd-cp1', true)
    }
  })

  it('nothing blocks once the bare pod is gone: exit 0', async () => {
    const answer = await call(t.kube, 'DELETE', '/api/v1/namespaces/default/pods/debug?gracePeriodSeconds=0')
    expect(answer.status).toBe(200)
    const {code, stdout} = await run(['--to', '1.32.0'])
    expect(stdout).toContain('Nothing blocks: kp upgrade cluster --to 1.32.0 can start.')
    expect(code).toBe(0)
  })

  it('an API server that does not answer: exit 3, nothing assessed', async () => {
    const closed = path.join(dir, 'closed.yaml')
    const kubeconfig = path.join(dir, 'closed.conf')
    writeFileSync(kubeconfig, readFileSync(t.kubeconfig, 'utf8').replace(/server: .*/, 'server: https://127.0.0.1:9'), {mode: 0o600})
    writeFileSync(closed, readFileSync(config, 'utf8').replace(t.kubeconfig, kubeconfig))
    const {code, stderr} = await run([], closed)
    expect(stderr).toContain('cannot assess the upgrade of uptest')
    expect(code).toBe(3)
  })
})
