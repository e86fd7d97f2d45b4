/**
 * `kp upgrade plan` and `kp upgrade cluster` on a lab cluster with Deployments and budgets, as an
 * operator runs them: every guard refused with nothing changed; an `upgrade apply` that fails half-way
 * and is rolled back by kubeadm stops the run, `kp resume` after the fault is cleared finishes it,
 * killed with -9 at random moments and resumed until done; the real `kubectl` samples the
 * Deployments every second throughout. The world is checked afterwards: every node at the target in
 * `kubectl get nodes`, the packages and holds in each VM, `kubeadm upgrade apply|node` run once per
 * node (the VMs' calls logs), no node cordoned, kp.yaml at the target with its comments, the
 * Proxmox request log against the real API schema, `kp health` exit 0.
 *
 * CI runs the lean form (1 control plane, 2 workers, 1.30 → 1.31). `npm run rehearse` runs the
 * rehearsal (KP_REHEARSE=1: 3 control planes, 3 workers, 1.30 → 1.31 → 1.32 → 1.33). Needs root.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import path from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {teardownLab} from '../../../src/lib/lab/host/index.js'
import {checkRequestLog, type RequestLike} from '../../../src/lib/lab/proxmox/schema.js'
import {parseEnvelope, runKp, spawnKp, tempDir} from '../../helpers/cli.js'
import {isRoot, SshClient, until} from '../host/helpers.js'
import {labKubectl} from '../kube/helpers.js'
import {lowestReady, SHOP_BUDGETS, sampleShop, startShop} from '../kube/shop.js'

if (!isRoot) console.warn('test/lab/upgrade/upgrade.test.ts: skipped, the lab needs root')

const REHEARSE = process.env.KP_REHEARSE === '1'
const CONTROL_PLANES = REHEARSE ? 3 : 1
const WORKERS = REHEARSE ? 3 : 2
const FROM = '1.30.14'
/** The newest patch of each next minor in the lab's repositories (src/lib/lab/host/packages.ts). */
const CHAIN = REHEARSE ? ['1.31.9', '1.32.5', '1.33.5'] : ['1.31.9']
const NODES: Record<string, string> = Object.fromEntries([
  ...Array.from({length: CONTROL_PLANES}, (_, i): [string, string] => [`cp${i + 1}`, `10.77.0.${11 + i}`]),
  ...Array.from({length: WORKERS}, (_, i): [string, string] => [`w${i + 1}`, `10.77.0.${11 + CONTROL_PLANES + i}`]),
])
const NAMES = Object.keys(NODES)
const started = Date.now()

/** A budget no drain can ever satisfy: the `pod-not-evictable` guard. */
const STUCK = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ledger, namespace: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: ledger}}
  template:
    metadata: {labels: {app: ledger}}
    spec: {containers: [{name: ledger, image: registry.k8s.io/pause:3.10}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: ledger, namespace: shop}
spec: {maxUnavailable: 0, selector: {matchLabels: {app: ledger}}}
`

interface NodeList {
  items: Array<{metadata: {name: string}; spec: {unschedulable?: boolean}; status: {conditions: Array<{status: string; type: string}>; nodeInfo: {kubeletVersion: string}}}>
}

describe.skipIf(!isRoot)(`kp upgrade on a lab of ${CONTROL_PLANES} control plane(s) and ${WORKERS} workers: ${[FROM, ...CHAIN].join(' → ')}`, () => {
  const state = tempDir('kp-upgrade-lab-')
  const lab = path.join(state, 'lab')
  const config = path.join(lab, 'kp.yaml')
  const kp = (args: string[], timeoutMs = 900_000, env: NodeJS.ProcessEnv = {}) => runKp([...args, '--state-dir', state, '--config', config], {env, timeoutMs})
  const requestsFile = path.join(lab, 'pve', 'proxmox-requests.jsonl')
  const requests = (): RequestLike[] => (existsSync(requestsFile) ? readFileSync(requestsFile, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RequestLike) : [])
  const kubectl = labKubectl(path.join(state, 'clusters', 'lab', 'admin.conf'))
  let ssh: SshClient
  const figures: string[] = []

  const calls = async (node: string) => (await ssh.ok(NODES[node]!, 'sudo cat /var/log/kp-lab/calls.log')).split('\n')
  /** How many times kubeadm upgrade apply or upgrade node ran on a node (the VM's own calls log). */
  const upgrades = async (node: string) =>
    (await calls(node))
      .filter(Boolean)
      .map((l) => JSON.parse(l) as {args: string[]; cmd: string})
      .filter((c) => c.cmd === 'kubeadm' && c.args[0] === 'upgrade' && (c.args[1] === 'apply' || c.args[1] === 'node')).length
  const versions = async (node: string) => (await ssh.ok(NODES[node]!, "dpkg-query -W -f '${Package}=${Version}\\n' kubeadm kubelet kubectl")).trim()
  const holds = async (node: string) => (await ssh.ok(NODES[node]!, 'apt-mark showhold')).trim().split('\n').sort()
  const nodes = async () => JSON.parse((await kubectl(['get', 'nodes', '-o', 'json'])).stdout) as NodeList
  /** What a refused run must not have changed: packages, calls to kubeadm upgrade, cordons, Proxmox writes. */
  const world = async () => ({
    cordoned: (await nodes()).items.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name),
    kubeadm: await Promise.all(NAMES.map((n) => upgrades(n))),
    packages: await Promise.all(NAMES.map((n) => versions(n))),
    pveWrites: requests().filter((r) => r.method !== 'GET').length,
    repo: await Promise.all(NAMES.map((n) => ssh.ok(NODES[n]!, 'cat /etc/apt/sources.list.d/kubernetes.list'))),
  })

  beforeAll(async () => {
    const up = await runKp(['lab', 'up', '--nodes', String(NAMES.length), '--control-planes', String(CONTROL_PLANES), '--kubernetes-version', FROM, '--state-dir', state], {timeoutMs: 20 * 60_000})
    expect(up.code, up.stderr + up.stdout).toBe(0)
    ssh = new SshClient(lab, path.join(lab, 'ssh', 'id_ed25519'), 'debian')
    const boot = await kp(['bootstrap', '--yes'], 30 * 60_000)
    expect(boot.code, boot.stderr + boot.stdout).toBe(0)
    await startShop(kubectl, 5)
    // A comment the version update must keep.
    writeComment(config)
  }, 45 * 60_000)

  afterAll(async () => {
    console.log(`upgrade-lab: ${figures.join('; ')}; ${((Date.now() - started) / 1000).toFixed(0)} s wall time`)
    await runKp(['lab', 'down', '--state-dir', state], {timeoutMs: 120_000})
    await teardownLab({stateDir: lab}, {purge: true}).catch(() => {})
  })

  it('kp upgrade plan: the versions of every node, the targets in the repository, what would happen node by node, no blocker', async () => {
    const plan = await kp(['upgrade', 'plan', '--to', CHAIN[0]!])
    expect(plan.code, plan.stderr + plan.stdout).toBe(0)
    for (const n of NAMES) expect(plan.stdout).toContain(n)
    expect(plan.stdout).toContain(FROM)
    expect(plan.stdout).toContain(CHAIN[0])
    expect(plan.stdout).toMatch(/upgrade apply/)
    const json = await kp(['upgrade', 'plan', '--json'])
    expect(json.code, json.stderr).toBe(0)
    const assessment = planResult(json.stdout)
    expect(assessment.current).toBe(FROM)
    expect(assessment.blockers).toEqual([])
    expect(assessment.available).toEqual(expect.arrayContaining([FROM, CHAIN[0]]))
    expect(assessment.order).toEqual(NAMES)
    for (const node of assessment.nodes) {
      expect(node.kubelet, node.name).toBe(FROM)
      expect(node.kubeadm, node.name).toBe(FROM)
      if (node.role === 'control-plane') expect(node.components['kube-apiserver'], node.name).toBe(FROM)
    }
  }, 120_000)

  it('refuses every guard the lab can show, naming the fix, and changes nothing', async () => {
    const before = await world()
    const refused = async (to: string, code: string, pattern: RegExp) => {
      const run = await kp(['upgrade', 'cluster', '--to', to, '--yes'])
      expect(run.code, run.stderr + run.stdout).toBe(4)
      expect(run.stderr).toMatch(pattern)
      const plan = planResult((await kp(['upgrade', 'plan', '--to', to, '--json'])).stdout)
      expect(plan.blockers.map((b) => b.code)).toContain(code)
      expect(await world(), `${code}: nothing changed`).toEqual(before)
    }

    await refused(FROM, 'same-or-lower', new RegExp(FROM.replaceAll('.', '\\.')))
    await refused('1.32.5', 'skips-minor', /minor/)
    await refused('1.31.77', 'not-in-repository', /1\.31\.77/)

    expect((await kp(['lab', 'fault', 'w1', '--kubelet-down'])).code).toBe(0)
    await until('w1 NotReady', async () => (await nodes()).items.find((n) => n.metadata.name === 'w1')?.status.conditions.some((c) => c.type === 'Ready' && c.status !== 'True') === true, 120_000)
    await refused(CHAIN[0]!, 'node-not-ready', /w1/)
    expect((await kp(['lab', 'fault', 'w1', '--kubelet-up'])).code).toBe(0)
    await until('w1 Ready', async () => (await nodes()).items.find((n) => n.metadata.name === 'w1')?.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True') === true, 120_000)

    expect((await kp(['lab', 'fault', 'cp1', '--etcd-down'])).code).toBe(0)
    await refused(CHAIN[0]!, 'etcd-unhealthy', /etcd/)
    expect((await kp(['lab', 'fault', 'cp1', '--etcd-up'])).code).toBe(0)

    expect((await kubectl(['apply', '-f', '-'], STUCK)).code).toBe(0)
    await until('the ledger pod running', async () => (JSON.parse((await kubectl(['get', 'deployment', 'ledger', '-n', 'shop', '-o', 'json'])).stdout) as {status?: {readyReplicas?: number}}).status?.readyReplicas === 1, 120_000)
    await refused(CHAIN[0]!, 'pod-not-evictable', /ledger/)
    expect((await kubectl(['delete', '-f', '-'], STUCK)).code).toBe(0)
  }, 15 * 60_000)

  it(`upgrades ${NAMES.length} nodes ${[FROM, ...CHAIN].join(' → ')}: a rolled-back upgrade apply stops the run; kill -9 at random moments and kp resume until done; budgets held; each node upgraded once per minor`, async () => {
    const sampler = sampleShop(kubectl)
    const kills: number[] = []
    let previous = FROM
    for (const [i, target] of CHAIN.entries()) {
      const before = Object.fromEntries(await Promise.all(NAMES.map(async (n) => [n, await upgrades(n)] as const)))
      const began = Date.now()
      let run: ReturnType<typeof spawnKp>
      if (i === 0) {
        // kubeadm's own rollback: the run stops at the first control plane, nothing else upgraded.
        expect((await kp(['lab', 'fault', 'cp1', '--upgrade-apply-fails'])).code).toBe(0)
        const failed = await kp(['upgrade', 'cluster', '--to', target, '--yes'])
        expect(failed.code, failed.stderr + failed.stdout).toBe(1)
        expect(failed.stderr).toContain('cp1')
        expect(failed.stderr).toMatch(/upgrade apply/)
        expect(failed.stderr).toMatch(/runbooks\/upgrade-cluster\.md/)
        expect(await upgrades('cp1'), 'kubeadm upgrade apply ran (and rolled back) once').toBe(before.cp1! + 1)
        const cp1 = (await nodes()).items.find((n) => n.metadata.name === 'cp1')!
        expect(cp1.status.nodeInfo.kubeletVersion).toBe(`v${previous}`)
        expect((await kp(['lab', 'fault', 'cp1', '--clear'])).code).toBe(0)
        run = spawnKp(['resume', '--yes', '--state-dir', state, '--config', config])
      } else {
        run = spawnKp(['upgrade', 'cluster', '--to', target, '--yes', '--state-dir', state, '--config', config])
      }

      let result = await killAtRandom(run, kills)
      while (result.code !== 0) {
        expect(result.code, `kp stopped on its own: ${result.stderr}${result.stdout}`).toBe(137)
        run = spawnKp(['resume', '--yes', '--state-dir', state, '--config', config])
        result = await killAtRandom(run, kills)
      }

      figures.push(`${previous} → ${target}: ${((Date.now() - began) / 1000).toFixed(0)} s for ${NAMES.length} nodes`)
      const after = await nodes()
      expect(after.items.map((n) => n.metadata.name).sort()).toEqual([...NAMES].sort())
      expect(after.items.filter((n) => n.spec.unschedulable).map((n) => n.metadata.name), 'none left cordoned').toEqual([])
      for (const node of after.items) {
        expect(node.status.nodeInfo.kubeletVersion, node.metadata.name).toBe(`v${target}`)
        expect(node.status.conditions.find((c) => c.type === 'Ready')?.status, node.metadata.name).toBe('True')
      }

      const table = await kubectl(['get', 'nodes'])
      for (const n of NAMES) expect(table.stdout).toMatch(new RegExp(`^${n}\\s+Ready\\s+\\S+\\s+\\S+\\s+v${target.replaceAll('.', '\\.')}`, 'm'))
      for (const n of NAMES) {
        // The failed apply counts once on cp1: kubeadm ran and rolled back.
        const extra = i === 0 && n === 'cp1' ? 1 : 0
        expect(await upgrades(n), `${n}: kubeadm upgrade ran once`).toBe(before[n]! + 1 + extra)
        expect((await versions(n)).split('\n').sort(), n).toEqual(['kubeadm', 'kubectl', 'kubelet'].map((p) => `${p}=${target}-1.1`))
        expect(await holds(n), n).toEqual(expect.arrayContaining(['kubeadm', 'kubectl', 'kubelet']))
        expect(await ssh.ok(NODES[n]!, 'cat /etc/apt/sources.list.d/kubernetes.list'), n).toContain(`v${target.split('.').slice(0, 2).join('.')}`)
      }

      const text = readFileSync(config, 'utf8')
      expect(text).toMatch(new RegExp(`kubernetesVersion: ['"]?${target.replaceAll('.', '\\.')}`))
      expect(text).toContain(COMMENT)
      const health = await kp(['health'])
      expect(health.code, health.stdout + health.stderr).toBe(0)
      previous = target
    }

    const samples = await sampler.stop()
    figures.push(`killed at ${kills.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ')}; ${samples.length} availability samples, ${samples.filter((s) => !s.ready).length} without an answer`)
    expect(kills.length).toBeGreaterThan(0)
    const {answered, lowest} = lowestReady(samples)
    expect(answered).toBeGreaterThan(30)
    for (const [deployment, minAvailable] of Object.entries(SHOP_BUDGETS)) expect(lowest[deployment], `${deployment}'s ready replicas`).toBeGreaterThanOrEqual(minAvailable)

    expect(checkRequestLog(requests())).toEqual([])
  }, (REHEARSE ? 120 : 30) * 60_000)
})

const COMMENT = '# kp upgrade keeps this comment'

function writeComment(file: string): void {
  const text = readFileSync(file, 'utf8')
  // Above the cluster section, where an operator would note why the version is what it is.
  writeFileSync(file, text.replace(/^cluster:/m, `${COMMENT}\ncluster:`))
}

interface PlanResult {
  available: string[]
  blockers: Array<{code: string; fix: string; node?: string; problem: string}>
  current: string
  nodes: Array<{components: Record<string, string>; kubeadm?: string; kubelet?: string; name: string; role: string}>
  order: string[]
}

function planResult(stdout: string): PlanResult {
  const envelope = parseEnvelope<PlanResult | {assessment: PlanResult}>(stdout)
  const result = envelope.result!
  return 'assessment' in result ? result.assessment : result
}

async function killAtRandom(run: ReturnType<typeof spawnKp>, kills: number[]) {
  if (kills.length >= (REHEARSE ? 6 : 2)) return run.done
  const delayMs = 5000 + Math.floor(Math.random() * 40_000)
  const timer = setTimeout(() => {
    kills.push(delayMs)
    run.child.kill('SIGKILL')
  }, delayMs)
  const result = await run.done
  clearTimeout(timer)
  return result
}
