/**
 * upgrade-cluster on the node itself and in the API: its playbook (playbooks/upgrade/packages.sh,
 * sent after node-prepare's lib.sh the way node-prepare runs its own), the marker kubeadm's upgrade
 * leaves behind on success, and what the API says of the node (its kube-apiserver mirror pod's
 * image, its kubelet's version).
 */
import type {KubeNode} from '../../kube/types.js'
import {isReady} from '../bootstrap/wait.js'
import {applyPlaybook, checkPlaybook, type PlaybookFolder} from '../node-prepare/playbook.js'
import type {UpgradeUnit} from './facts.js'

export const UPGRADE: PlaybookFolder = {dir: 'upgrade', helpers: ['node-prepare/lib.sh']}

/**
 * Written in the same shell command as `kubeadm upgrade apply|node`, right after it succeeded: a
 * resume after kill -9 finds it and never runs the upgrade of the node a second time.
 */
export const UPGRADED_MARKER = '/etc/kubernetes/kp-kubeadm-upgraded'

export type KubePackage = 'kubeadm' | 'kubectl' | 'kubelet'

/** packages.sh check: undefined when the packages are at the target and held, else what would change. */
export async function packagesToChange(ctx: UpgradeUnit, packages: KubePackage[]): Promise<string[] | undefined> {
  return ctx.memo(`upgrade-cluster ${packages.join(',')}@${ctx.target!}`, async () => {
    const session = await ctx.ssh(ctx.target!)
    return checkPlaybook(session, 'packages', [ctx.facts.target, ...packages], ctx.signal, UPGRADE)
  })
}

/** packages.sh apply on the unit's node: unhold, install VERSION-<revision>, hold. */
export async function installPackages(ctx: UpgradeUnit, packages: KubePackage[]): Promise<void> {
  const session = await ctx.ssh(ctx.target!)
  const result = await ctx.mutate(`${packages.join(' and ')} to ${ctx.facts.target} (unhold, install, hold)`, () =>
    applyPlaybook(session, 'packages', [ctx.facts.target, ...packages], ctx.signal, UPGRADE),
  )
  for (const line of result?.lines ?? []) ctx.log(line)
  if (result) ctx.markChanged(result.changed)
}

/** The version kubeadm's upgrade of this node finished at, from its marker; undefined when none. */
export async function upgradedTo(ctx: UpgradeUnit): Promise<string | undefined> {
  const session = await ctx.ssh(ctx.target!)
  const {code, stdout} = await session.exec(['cat', UPGRADED_MARKER], {allowFailure: true, idempotent: true, signal: ctx.signal, sudo: true})
  return code === 0 ? stdout.trim() || undefined : undefined
}

const COMPONENTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const

/**
 * The components of this control plane not at `target` yet (their mirror pods' image tags), empty
 * when all three run it: kubeadm killed half-way may have moved the API server but not the rest.
 */
export async function componentsBehind(ctx: UpgradeUnit, target: string): Promise<string[]> {
  const kube = await ctx.kube()
  const pods = await kube.listPods({fieldSelector: `spec.nodeName=${ctx.target!}`, namespace: 'kube-system'}, {signal: ctx.signal})
  return COMPONENTS.filter((component) => {
    const pod = pods.find((p) => p.metadata?.labels?.component === component)
    return pod?.spec?.containers?.[0]?.image?.split(':').at(-1)?.replace(/^v/, '') !== target
  })
}

/** Ready, with its kubelet at the target; a reason when not. */
export function atTarget(node: KubeNode | undefined, target: string): true | string {
  const version = node?.status?.nodeInfo?.kubeletVersion
  if (version !== `v${target}`) return `its kubelet is ${version ?? 'unknown'}, not v${target}`
  return isReady(node) ? true : 'it is not Ready'
}
