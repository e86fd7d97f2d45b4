/**
 * kp health against the lab's in-process fakes: a Kubernetes API seeded like a small kubeadm cluster
 * (cp1, w1, w2 and the demo workloads), optionally a Proxmox host whose VMs 201, 211 and 212 run, and
 * a kp.yaml naming both. Each test gets its own fakes, so faults never leak between tests.
 */
import {writeFileSync} from 'node:fs'
import path from 'node:path'

import type {FakeKube, FakeKubeOptions, KubeObject} from '../../src/lib/lab/kube/index.js'
import type {HealthReport} from '../../src/lib/health/types.js'
import {type KpOptions, type KpResult, runKp, tempDir} from '../helpers/cli.js'
import {startTestKube, until} from '../lab/kube/helpers.js'
import {connect, type Lab, NODE, startLab, TEMPLATE, TOKEN} from '../proxmox/helpers.js'

export const NODES = [
  {name: 'cp1', vmid: 201},
  {name: 'w1', vmid: 211},
  {name: 'w2', vmid: 212},
]

export interface HealthLab {
  close: () => Promise<void>
  config: string
  dir: string
  kube: FakeKube
  kubeconfig: string
  pve?: Lab
  /** `kp health -c kp.yaml --state-dir … ARGS`. */
  run: (args?: string[], options?: KpOptions) => Promise<KpResult>
  /** `kp health --output json ARGS`, parsed. */
  report: (args?: string[]) => Promise<HealthRun>
}

export interface HealthRun {
  code: number
  reason: (name: string) => string | undefined
  report: HealthReport
  status: (name: string) => string | undefined
  stderr: string
}

export interface HealthLabOptions {
  kube?: Partial<FakeKubeOptions>
  proxmox?: boolean
}

export async function startHealthLab(options: HealthLabOptions = {}): Promise<HealthLab> {
  const dir = tempDir('kp-health-')
  const t = await startTestKube(options.kube, dir)
  t.kube.seedDemo({nodes: NODES.map((n) => n.name)})
  await settled(t.kube)
  const pve = options.proxmox ? await startLab() : undefined
  if (pve) {
    const {pve: client} = connect(pve.server)
    for (const node of NODES) {
      await client.clone(NODE, TEMPLATE, {full: false, name: node.name, newid: node.vmid})
      await client.start(NODE, node.vmid)
    }

    await client.close()
    writeFileSync(path.join(dir, 'token.secret'), `${TOKEN.secret}\n`, {mode: 0o600})
  }

  const config = writeHealthConfig(dir, t.kubeconfig, pve)
  const stateDir = path.join(dir, 'state')
  const run = (args: string[] = [], runOptions: KpOptions = {}) => runKp(['health', '-c', config, '--state-dir', stateDir, ...args], runOptions)
  return {
    async close() {
      await t.kube.close()
      await pve?.close()
    },
    config,
    dir,
    kube: t.kube,
    kubeconfig: t.kubeconfig,
    ...(pve ? {pve} : {}),
    async report(args: string[] = []) {
      const result = await run(['--output', 'json', ...args])
      const report = parseReport(result)
      const find = (name: string) => report.checks.find((c) => c.name === name)
      return {code: result.code, reason: (name) => find(name)?.reason, report, status: (name) => find(name)?.status, stderr: result.stderr}
    },
    run,
  }
}

export function parseReport(result: KpResult): HealthReport {
  try {
    return JSON.parse(result.stdout) as HealthReport
  } catch {
    throw new Error(`kp health printed no JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`)
  }
}

export function writeHealthConfig(dir: string, kubeconfig: string, pve?: Lab, extra = ''): string {
  const file = path.join(dir, 'kp.yaml')
  const proxmox = pve
    ? `proxmox:
  endpoint: ${pve.server.url}
  fingerprint: ${pve.server.fingerprint}
  node: ${NODE}
  tokenId: ${TOKEN.id}
  tokenSecret: {file: token.secret}
  templateVmid: ${TEMPLATE}
`
    : ''
  writeFileSync(
    file,
    `cluster:
  name: testlab
  kubernetesVersion: 1.31.8
  controlPlaneEndpoint: 127.0.0.1
  kubeconfig: ${kubeconfig}
  cni: {manifest: https://example.invalid/cni.yaml}
${proxmox}network:
  gateway: 10.77.0.1
  prefix: 24
  dns: [10.77.0.1]
ssh:
  user: debian
nodes:
${NODES.map((n, i) => `  - {name: ${n.name}, role: ${i === 0 ? 'control-plane' : 'worker'}, vmid: ${n.vmid}, ip: 10.77.0.${11 + i}}`).join('\n')}
${extra}`,
  )
  return file
}

interface Workload {
  spec?: {replicas?: number}
  status?: {availableReplicas?: number; desiredNumberScheduled?: number; numberAvailable?: number}
}

interface PodLike {
  status?: {conditions?: Array<{status: string; type: string}>; phase?: string}
}

/** Every workload available and every pod Ready: the fake's controllers have caught up. */
export async function settled(kube: FakeKube): Promise<void> {
  await until('the fake cluster to settle', () => {
    const deployments = kube.list<Workload & KubeObject>('deployments').every((d) => (d.status?.availableReplicas ?? 0) >= (d.spec?.replicas ?? 1))
    const daemonSets = kube.list<Workload & KubeObject>('daemonsets').every((d) => (d.status?.desiredNumberScheduled ?? 0) > 0 && d.status?.numberAvailable === d.status?.desiredNumberScheduled)
    const pods = kube.list<PodLike & KubeObject>('pods', 'kube-system')
    const ready = pods.length > 0 && pods.every((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    return deployments && daemonSets && ready
  })
}
