/**
 * The steps of kp upgrade cluster that guard a run and its resumes, with the assessment mocked (its
 * types are the contract with kp upgrade plan), a fake SSH session per node (kubeadm, the marker
 * file, systemctl) and a fake API: blockers refuse with every fix and nothing changed; a resume goes
 * on with the first attempt's target and order; `kubeadm upgrade apply|node` never runs twice on a
 * node; a failed `upgrade apply` stops naming the node and the runbook section; the kubelet step is
 * skipped once the API has the node Ready at the target.
 */
import {beforeAll, beforeEach, describe, expect, it, vi} from 'vitest'

import type {LoadedConfig} from '../../src/lib/config/load.js'
import type {UnitContext} from '../../src/lib/engine/types.js'
import {ExitCode, type KpError} from '../../src/lib/errors.js'
import type {KubeNode} from '../../src/lib/kube/types.js'
import type {SshSession} from '../../src/lib/ssh/types.js'
import type {UpgradeAssessment} from '../../src/lib/upgrade/assess.js'
import {gatherFacts, initialFacts, type UpgradeFacts, type UpgradeParams} from '../../src/lib/workflows/upgrade-cluster/facts.js'
import {kubeadmUpgrade} from '../../src/lib/workflows/upgrade-cluster/kubeadm-upgrade.js'
import {UPGRADED_MARKER} from '../../src/lib/workflows/upgrade-cluster/node.js'
import {restartKubelet} from '../../src/lib/workflows/upgrade-cluster/restart.js'
import {tempDir} from '../helpers/cli.js'
import {writeTestConfig} from '../helpers/config.js'

const assess = vi.hoisted(() => ({assessUpgrade: vi.fn()}))
vi.mock('../../src/lib/upgrade/assess.js', () => assess)

let config: LoadedConfig
beforeAll(async () => {
  const {loadConfig} = await import('../../src/lib/config/load.js')
  config = await loadConfig(writeTestConfig(tempDir('kp-upgrade-steps-')))
  process.env.KP_UPGRADE_WAIT_MS = '1500'
})

function assessment(blockers: UpgradeAssessment['blockers'] = []): UpgradeAssessment {
  return {
    available: ['1.30.14', '1.31.0', '1.31.2'],
    blockers,
    current: '1.30.14',
    nodes: [
      {components: {'kube-apiserver': '1.30.14'}, ip: '10.77.0.11', kubeadm: '1.30.14', kubelet: '1.30.14', name: 'cp1', ready: true, role: 'control-plane'},
      {components: {}, ip: '10.77.0.21', kubeadm: '1.30.14', kubelet: '1.30.14', name: 'w1', ready: true, role: 'worker'},
    ],
    order: ['cp1', 'w1'],
    target: '1.31.2',
  }
}

/** A node: the marker on its disk, what kubeadm does there, and every command kp ran. */
class Node {
  commands: string[] = []
  marker: string | undefined
  /** kubeadm upgrade apply fails and rolls back, as with the lab's fault. */
  applyFails = false

  constructor(readonly name: string) {}

  session(): SshSession {
    return {
      bootId: async () => 'boot',
      exec: async (command) => this.exec(command as string[]),
      rebootAndWait: async () => ({bootId: 'boot', seconds: 0}),
      target: {host: '127.0.0.1', name: this.name, port: 22, user: 'debian'},
      upload: async () => {},
    }
  }

  get upgrades(): string[] {
    return this.commands.filter((c) => / kubeadm "\$@"/.test(c))
  }

  private exec(argv: string[]): {code: number; stderr: string; stdout: string} {
    this.commands.push(argv.join(' '))
    if (argv[0] === 'cat' && argv[1] === UPGRADED_MARKER) return this.marker ? {code: 0, stderr: '', stdout: `${this.marker}\n`} : {code: 1, stderr: 'No such file', stdout: ''}
    if (argv[0] === 'kubeadm' && argv[2] === 'plan') return {code: 0, stderr: '', stdout: '[upgrade/versions] Target version: v1.31.2\n'}
    if (argv[0] === 'sh' && argv[3] === 'kp-kubeadm') {
      const [target, ...args] = argv.slice(4)
      if (args[1] === 'apply' && this.applyFails) {
        return {code: 1, stderr: '[upgrade/apply] FATAL: couldn\'t upgrade control plane. kubeadm has tried to recover everything into the earlier state. Errors faced: timed out waiting for the condition', stdout: '[upgrade/staticpods] Rolling back'}
      }
      this.marker = target
      return {code: 0, stderr: '', stdout: `[upgrade/successful] SUCCESS! ${args.join(' ')}\n`}
    }

    return {code: 0, stderr: '', stdout: ''}
  }
}

let nodes: Record<string, Node>
let apiNodes: Record<string, KubeNode>
/** This control plane's mirror pods: component → image tag. */
let images: Record<string, string>

const kubeNode = (version: string, ready = true): KubeNode =>
  ({status: {conditions: [{status: ready ? 'True' : 'False', type: 'Ready'}], nodeInfo: {kubeletVersion: version}}}) as unknown as KubeNode

beforeEach(() => {
  assess.assessUpgrade.mockReset()
  nodes = {cp1: new Node('cp1'), w1: new Node('w1')}
  apiNodes = {cp1: kubeNode('v1.30.14'), w1: kubeNode('v1.30.14')}
  images = {'kube-apiserver': 'v1.30.14', 'kube-controller-manager': 'v1.30.14', 'kube-scheduler': 'v1.30.14'}
})

const kube = {
  getNode: async (name: string) => apiNodes[name],
  health: async () => ({body: 'ok', ok: true, status: 200}),
  listDeployments: async () => [],
  listPdbs: async () => [],
  listPods: async (list: {fieldSelector?: string; namespace?: string}) =>
    list.fieldSelector === 'spec.nodeName=cp1' && list.namespace === 'kube-system'
      ? Object.entries(images).map(([component, tag]) => ({metadata: {labels: {component}}, spec: {containers: [{image: `registry.k8s.io/${component}:${tag}`}]}}))
      : [],
  server: 'https://10.77.0.11:6443',
}

interface Fake {
  ctx: UnitContext<UpgradeFacts, UpgradeParams>
  mutations: string[]
}

function unit(target: string | undefined, options: {dryRun?: boolean; facts?: Partial<UpgradeFacts>; preState?: Record<string, unknown>; to?: string} = {}): Fake {
  const mutations: string[] = []
  const memo = new Map<string, unknown>()
  let preState = options.preState
  const ctx = {
    config,
    dryRun: options.dryRun ?? false,
    facts: {...initialFacts(), order: ['cp1', 'w1'], roles: {cp1: 'control-plane', w1: 'worker'}, target: '1.31.2', ...options.facts},
    kube: async () => kube,
    log: () => {},
    markChanged: () => {},
    memo: <T>(key: string, make: () => T): T => {
      if (!memo.has(key)) memo.set(key, make())
      return memo.get(key) as T
    },
    async mutate<T>(description: string, fn: () => Promise<T> | T) {
      mutations.push(description)
      return options.dryRun ? undefined : fn()
    },
    params: {to: options.to ?? '1.31.2'},
    get preState() {
      return preState
    },
    preStateOf: () => undefined,
    pve: async () => {
      throw new Error('no Proxmox here')
    },
    recordPreState(state: Record<string, unknown>) {
      preState ??= state
    },
    runId: 'r1',
    signal: new AbortController().signal,
    ssh: async (name: string) => nodes[name]!.session(),
    stateDir: tempDir('kp-upgrade-state-'),
    target,
  } as unknown as UnitContext<UpgradeFacts, UpgradeParams>
  return {ctx, mutations}
}

describe('Gather facts', () => {
  it('refuses with every blocker and its fix, before anything is touched', async () => {
    assess.assessUpgrade.mockResolvedValue(
      assessment([
        {code: 'skips-minor', fix: 'upgrade to 1.31 first: kp upgrade cluster --to 1.31.2', problem: '1.30.14 → 1.32.0 skips 1.31.'},
        {code: 'node-not-ready', fix: 'kubectl describe node w1', node: 'w1', problem: 'w1 is not Ready.'},
      ]),
    )
    const {ctx, mutations} = unit(undefined, {to: '1.32.0'})
    const error = (await Promise.resolve(gatherFacts.run(ctx)).catch((e: unknown) => e)) as KpError
    expect(error.exitCode).toBe(ExitCode.refused)
    expect(error.message).toMatch(/not upgrading to 1\.32\.0; nothing was changed\. 2 blockers/)
    expect(error.message).toContain('1.30.14 → 1.32.0 skips 1.31. Fix: upgrade to 1.31 first: kp upgrade cluster --to 1.31.2')
    expect(error.message).toContain('w1: w1 is not Ready. Fix: kubectl describe node w1')
    expect(assess.assessUpgrade).toHaveBeenCalledWith(expect.anything(), {to: '1.32.0'})
    expect(ctx.preState).toBeUndefined()
    expect(mutations).toEqual([])
    expect(Object.values(nodes).flatMap((n) => n.commands)).toEqual([])
  })

  it('refuses a --to that is not X.Y.Z as a usage error, without asking the assessment', async () => {
    const {ctx} = unit(undefined, {to: '1.31'})
    const error = (await Promise.resolve(gatherFacts.run(ctx)).catch((e: unknown) => e)) as KpError
    expect(error.exitCode).toBe(ExitCode.usage)
    expect(assess.assessUpgrade).not.toHaveBeenCalled()
  })

  it("keeps the assessment's order and target in the journal; a resume goes on with them without assessing again", async () => {
    assess.assessUpgrade.mockResolvedValue(assessment())
    const first = unit(undefined, {facts: {order: [], roles: {}, target: ''}})
    await gatherFacts.run(first.ctx)
    expect(first.ctx.facts).toMatchObject({from: '1.30.14', order: ['cp1', 'w1'], roles: {cp1: 'control-plane', w1: 'worker'}, target: '1.31.2'})
    expect(first.ctx.preState).toMatchObject({from: '1.30.14', order: ['cp1', 'w1'], target: '1.31.2'})

    // Half-way, the assessment would object to the upgrade in progress itself.
    assess.assessUpgrade.mockResolvedValue(assessment([{code: 'apiservers-differ', fix: 'finish the last upgrade', problem: 'API servers differ.'}]))
    const resumed = unit(undefined, {facts: {order: [], roles: {}, target: ''}, preState: first.ctx.preState})
    await gatherFacts.run(resumed.ctx)
    expect(assess.assessUpgrade).toHaveBeenCalledTimes(1)
    expect(resumed.ctx.facts).toMatchObject({order: ['cp1', 'w1'], target: '1.31.2'})
  })
})

describe('Upgrade the node with kubeadm', () => {
  it('runs upgrade plan then upgrade apply on the first control plane, once across a resume', async () => {
    const a = unit('cp1')
    expect(await kubeadmUpgrade.check!(a.ctx)).toBe(false)
    await kubeadmUpgrade.run(a.ctx)
    expect(nodes.cp1!.commands.filter((c) => c.startsWith('kubeadm upgrade plan'))).toEqual(['kubeadm upgrade plan v1.31.2'])
    expect(nodes.cp1!.upgrades).toHaveLength(1)
    expect(nodes.cp1!.upgrades[0]).toMatch(/kp-kubeadm 1\.31\.2 upgrade apply v1\.31\.2 --yes$/)

    // kill -9 right after kubeadm finished, before the journal said so: the resume's check skips it.
    const resumed = unit('cp1')
    expect(await kubeadmUpgrade.check!(resumed.ctx)).toMatch(/already/)
    expect(nodes.cp1!.upgrades).toHaveLength(1)
  })

  it('runs upgrade node on every other node', async () => {
    const w = unit('w1')
    expect(await kubeadmUpgrade.check!(w.ctx)).toBe(false)
    await kubeadmUpgrade.run(w.ctx)
    expect(nodes.w1!.upgrades).toEqual([expect.stringMatching(/kp-kubeadm 1\.31\.2 upgrade node$/)])
    expect(nodes.w1!.commands.some((c) => c.includes('upgrade plan'))).toBe(false)
    expect(await kubeadmUpgrade.check!(unit('w1').ctx)).toMatch(/already/)
  })

  it("skips a control plane whose static pods all run the target's images already (no marker needed), not one kubeadm left half-way", async () => {
    images['kube-apiserver'] = 'v1.31.2'
    expect(await kubeadmUpgrade.check!(unit('cp1').ctx)).toBe(false)
    images = {'kube-apiserver': 'v1.31.2', 'kube-controller-manager': 'v1.31.2', 'kube-scheduler': 'v1.31.2'}
    expect(await kubeadmUpgrade.check!(unit('cp1').ctx)).toMatch(/kube-scheduler run v1\.31\.2 already/)
  })

  it('a marker of another version does not count', async () => {
    nodes.w1!.marker = '1.30.14'
    expect(await kubeadmUpgrade.check!(unit('w1').ctx)).toBe(false)
  })

  it('a failed upgrade apply (rolled back) stops naming the node and the runbook section; a resume runs it once the fault is gone', async () => {
    nodes.cp1!.applyFails = true
    const error = (await Promise.resolve(kubeadmUpgrade.run(unit('cp1').ctx)).catch((e: unknown) => e)) as KpError
    expect(error.exitCode).toBe(ExitCode.stepFailed)
    expect(error.message).toMatch(/^cp1: kubeadm upgrade apply v1\.31\.2 --yes failed \(exit 1\) and kubeadm rolled the node back/)
    expect(error.hint).toContain('runbooks/upgrade-cluster.md#upgrade-the-node-with-kubeadm')
    expect(nodes.cp1!.marker).toBeUndefined()

    nodes.cp1!.applyFails = false
    const resumed = unit('cp1')
    expect(await kubeadmUpgrade.check!(resumed.ctx)).toBe(false)
    await kubeadmUpgrade.run(resumed.ctx)
    expect(nodes.cp1!.marker).toBe('1.31.2')
  })

  it('a dry run says what it would run and runs nothing', async () => {
    const dry = unit('cp1', {dryRun: true})
    expect(await kubeadmUpgrade.plan!(dry.ctx)).toEqual(['kubeadm upgrade plan v1.31.2', 'kubeadm upgrade apply v1.31.2 --yes'])
    expect(await kubeadmUpgrade.plan!(unit('w1', {dryRun: true}).ctx)).toEqual(['kubeadm upgrade node'])
  })
})

describe('Restart the kubelet and wait for the node', () => {
  it('is skipped once the API has the node Ready at the target, not before', async () => {
    expect(await restartKubelet.check!(unit('w1').ctx)).toBe(false)
    apiNodes.w1 = kubeNode('v1.31.2', false)
    expect(await restartKubelet.check!(unit('w1').ctx)).toBe(false)
    apiNodes.w1 = kubeNode('v1.31.2')
    expect(await restartKubelet.check!(unit('w1').ctx)).toMatch(/Ready with its kubelet at v1\.31\.2/)
  })

  it('restarts the kubelet and waits for the new version; one that stays old fails naming the runbook section', async () => {
    const ok = unit('w1')
    setTimeout(() => {
      apiNodes.w1 = kubeNode('v1.31.2')
    }, 200)
    await restartKubelet.run(ok.ctx)
    expect(nodes.w1!.commands).toContain('sh -c systemctl daemon-reload && systemctl restart kubelet')

    apiNodes.w1 = kubeNode('v1.30.14')
    const error = (await Promise.resolve(restartKubelet.run(unit('w1').ctx)).catch((e: unknown) => e)) as KpError
    expect(error.exitCode).toBe(ExitCode.stepFailed)
    expect(error.message).toMatch(/w1 is not back at v1\.31\.2 .*its kubelet is v1\.30\.14/)
    expect(error.hint).toContain('#restart-the-kubelet-and-wait-for-the-node')
  })
})
