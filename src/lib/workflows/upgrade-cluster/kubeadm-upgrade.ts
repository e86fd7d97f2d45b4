/**
 * Upgrade the node with kubeadm: on the first control plane `kubeadm upgrade plan vV` (its own checks,
 * logged) then `kubeadm upgrade apply vV --yes`, which upgrades the cluster's control plane
 * configuration and this node's static pods; on every other node `kubeadm upgrade node`. A control
 * plane after the first starts only with the API and every etcd member healthy.
 *
 * Never twice on a node: the upgrade and a marker (UPGRADED_MARKER, holding the version) are one
 * shell command, and the check skips a node whose marker is at the target — or, for a control
 * plane, whose kube-apiserver, kube-controller-manager and kube-scheduler mirror pods all run the
 * target's image. A failed `upgrade apply`
 * (kubeadm restores the old manifests itself) stops the run here; `kp resume` tries it again once
 * the cause is fixed.
 */
import type {Step} from '../../engine/types.js'
import {StepFailedError} from '../../errors.js'
import {waitFor} from '../bootstrap/wait.js'
import {apiProblems, etcdProblems} from '../node-patch/cluster.js'
import {isFirst, roleOf, RUNBOOK, targets, type UpgradeFacts, type UpgradeParams, type UpgradeUnit, waitMs} from './facts.js'
import {componentsBehind, UPGRADED_MARKER, upgradedTo} from './node.js'

const KUBEADM_TIMEOUT_MS = 15 * 60_000
const HEALTHY_TIMEOUT_MS = 5 * 60_000
const SECTION = `${RUNBOOK}#upgrade-the-node-with-kubeadm`

/** The argv of the node's kubeadm upgrade (after `kubeadm`). */
export function upgradeArgs(ctx: UpgradeUnit): string[] {
  return isFirst(ctx, ctx.target!) ? ['upgrade', 'apply', `v${ctx.facts.target}`, '--yes'] : ['upgrade', 'node']
}

async function done(ctx: UpgradeUnit): Promise<string | false> {
  const target = ctx.facts.target
  if ((await upgradedTo(ctx)) === target) return `kubeadm upgraded ${ctx.target!} to ${target} already (${UPGRADED_MARKER})`
  if (roleOf(ctx, ctx.target!) === 'control-plane' && (await componentsBehind(ctx, target)).length === 0) {
    return `${ctx.target!}'s kube-apiserver, kube-controller-manager and kube-scheduler run v${target} already`
  }
  return false
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-6).join('\n')
}

export const kubeadmUpgrade: Step<UpgradeFacts, UpgradeParams> = {
  id: 'kubeadm-upgrade',
  rolling: true,
  title: 'Upgrade the node with kubeadm',
  targets,
  check: (ctx) => done(ctx),
  plan: (ctx) => [
    ...(isFirst(ctx, ctx.target!) ? [`kubeadm upgrade plan v${ctx.facts.target}`] : []),
    `kubeadm ${upgradeArgs(ctx).join(' ')}`,
  ],
  async run(ctx) {
    const node = ctx.target!
    const target = ctx.facts.target
    const session = await ctx.ssh(node)
    const kube = await ctx.kube()
    if (roleOf(ctx, node) === 'control-plane' && !isFirst(ctx, node)) {
      await waitFor(`the API and etcd before ${node}`, async () => {
        const problems = [...(await apiProblems(kube, ctx.signal)), ...(await etcdProblems(kube, undefined, true, ctx.signal))]
        return problems.length === 0 ? true : problems.join('; ')
      }, {intervalMs: 1000, log: (l) => ctx.log(l), signal: ctx.signal, timeoutMs: waitMs(HEALTHY_TIMEOUT_MS)})
    }

    if (isFirst(ctx, node)) {
      const plan = await session.exec(['kubeadm', 'upgrade', 'plan', `v${target}`], {allowFailure: true, idempotent: true, signal: ctx.signal, sudo: true, timeoutMs: KUBEADM_TIMEOUT_MS})
      for (const line of plan.stdout.split('\n').filter(Boolean)) ctx.log(line)
      if (plan.code !== 0) {
        throw new StepFailedError(`${node}: kubeadm upgrade plan v${target} refused (exit ${plan.code}): ${tail(plan.stderr || plan.stdout)}. Nothing was upgraded.`, {
          hint: `See the runbook section "Upgrade the node with kubeadm" (${SECTION}); fix what kubeadm names, then kp resume`,
        })
      }
    }

    const args = upgradeArgs(ctx)
    const result = await ctx.mutate(`kubeadm ${args.join(' ')} on ${node}`, () =>
      // The marker in the same command: nothing can stop kp between the upgrade and the record of it.
      session.exec(['sh', '-c', `v=$1; shift; kubeadm "$@" && printf '%s\\n' "$v" > ${UPGRADED_MARKER}`, 'kp-kubeadm', target, ...args], {
        allowFailure: true,
        signal: ctx.signal,
        sudo: true,
        timeoutMs: KUBEADM_TIMEOUT_MS,
      }),
    )
    if (!result) return
    for (const line of result.stdout.split('\n').filter(Boolean)) ctx.log(line)
    if (result.code !== 0) {
      const rolledBack = /roll(ed|ing)? ?back/i.test(result.stdout + result.stderr)
      throw new StepFailedError(
        `${node}: kubeadm ${args.join(' ')} failed (exit ${result.code})${rolledBack ? ' and kubeadm rolled the node back to its old version' : ''}: ${tail(result.stderr || result.stdout)}`,
        {hint: `See the runbook section "Upgrade the node with kubeadm" (${SECTION}). The nodes after ${node} were not touched; once the cause is fixed, kp resume runs it again.`},
      )
    }
  },
}
