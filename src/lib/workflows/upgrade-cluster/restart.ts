/**
 * Restart the kubelet: `systemctl daemon-reload && systemctl restart kubelet`, so the new package's
 * binary and kubeadm's new kubelet configuration run, then wait until the Node is Ready with
 * status.nodeInfo.kubeletVersion at the target. Skipped when the API says so already.
 */
import type {Step} from '../../engine/types.js'
import {errorMessage, StepFailedError} from '../../errors.js'
import {waitFor} from '../bootstrap/wait.js'
import {RUNBOOK, targets, type UpgradeFacts, type UpgradeParams, type UpgradeUnit, waitMs} from './facts.js'
import {atTarget} from './node.js'

const READY_TIMEOUT_MS = 5 * 60_000

async function ready(ctx: UpgradeUnit): Promise<true | string> {
  const node = await (await ctx.kube()).getNode(ctx.target!, {signal: ctx.signal})
  return atTarget(node, ctx.facts.target)
}

export const restartKubelet: Step<UpgradeFacts, UpgradeParams> = {
  id: 'restart-kubelet',
  rolling: true,
  title: 'Restart the kubelet and wait for the node',
  targets,
  check: async (ctx) => ((await ready(ctx)) === true ? `${ctx.target!} is Ready with its kubelet at v${ctx.facts.target}` : false),
  plan: (ctx) => ['systemctl daemon-reload && systemctl restart kubelet', `wait until ${ctx.target!} is Ready with its kubelet at v${ctx.facts.target}`],
  async run(ctx) {
    const node = ctx.target!
    const session = await ctx.ssh(node)
    await ctx.mutate(`restart the kubelet on ${node}`, () => session.exec(['sh', '-c', 'systemctl daemon-reload && systemctl restart kubelet'], {idempotent: true, signal: ctx.signal, sudo: true}))
    if (ctx.dryRun) return
    try {
      await waitFor(`${node} to be Ready at v${ctx.facts.target}`, () => ready(ctx), {intervalMs: 1000, log: (l) => ctx.log(l), signal: ctx.signal, timeoutMs: waitMs(READY_TIMEOUT_MS)})
    } catch (error) {
      if (ctx.signal.aborted) throw error
      throw new StepFailedError(`${node} is not back at v${ctx.facts.target} after the kubelet's restart: ${errorMessage(error)}. It stays cordoned.`, {
        hint: `See the runbook section "Restart the kubelet and wait for the node" (${RUNBOOK}#restart-the-kubelet-and-wait-for-the-node): kp ssh ${node} -- sudo journalctl -u kubelet; then kp resume`,
      })
    }
  },
}
