/**
 * Check the cluster and the node, before anything of the node changes: --not-after, the cluster
 * (API, every other node Ready, etcd with the quorum rule), the drain's preflight, then the node's
 * packages after `apt-get update`. Its verdict — what to install, whether to reboot, or nothing to
 * do — is the unit's pre-state: every later step of the node reads it, also after a resume, and a
 * node with nothing to do goes through no other step (a second run changes nothing).
 */
import {describeChanges, kubernetesTouched, pendingCount, wantsReboot} from '../../apt.js'
import type {Step} from '../../engine/types.js'
import {DeadlineError, errorMessage, ExitCode, KpError, RefusedError} from '../../errors.js'
import {warn} from '../../warnings.js'
import {refusalOf} from '../node-drain/preflight.js'
import {isCordoned} from '../node-drain/facts.js'
import {clusterProblems, workloadsPending} from './cluster.js'
import {type PatchFacts, type PatchParams, type PatchUnit, roleOf, settingsOf, targets, type Verdict} from './facts.js'
import {readPackages} from './node.js'

function deadline(ctx: PatchUnit): void {
  const {notAfter} = settingsOf(ctx)
  if (notAfter === undefined || Date.now() <= notAfter) return
  const i = ctx.facts.order.indexOf(ctx.target!)
  const done = ctx.facts.order.slice(0, i)
  const left = ctx.facts.order.slice(i)
  throw new DeadlineError(
    `--not-after ${new Date(notAfter).toISOString()} has passed: no node is started after it. Done: ${done.join(', ') || 'none'}; not started: ${left.join(', ')}.`,
    {hint: `patch the rest in the next window: kp node patch ${left.join(' ')}`},
  )
}

async function decide(ctx: PatchUnit): Promise<Verdict> {
  const node = ctx.target!
  deadline(ctx)
  const kube = await ctx.kube()
  const problems = await clusterProblems(kube, node, roleOf(ctx, node) === 'control-plane', ctx.signal)
  if (problems.length > 0) throw new RefusedError(`not patching ${node}: ${problems.join('; ')}. Nothing was changed on ${node}.`, {hint: 'kp health names what is wrong; fix it, then kp resume'})
  const refusal = refusalOf(ctx, `Nothing was changed${isCordoned(ctx.facts.node) ? '' : `: ${node} is not cordoned`}.`)
  if (refusal) throw refusal
  const report = await readPackages(ctx, true)
  const touched = kubernetesTouched(report.simulation)
  if (touched.length > 0) {
    throw new RefusedError(`apt wants to change the Kubernetes package${touched.length === 1 ? '' : 's'} ${touched.join(', ')} on ${node}; nothing was changed`, {
      hint: `kubeadm upgrades them (kp upgrade); hold them again (kp ssh ${node} -- sudo apt-mark hold ${touched.join(' ')}) or patch without --dist-upgrade, then kp resume`,
    })
  }

  const {policy} = settingsOf(ctx)
  const upgrade = pendingCount(report.simulation) > 0 || report.dpkgInterrupted
  const reboot = wantsReboot(policy, report.rebootRequired, upgrade)
  if (policy === 'never' && report.rebootRequired) warn(`${node} waits for a reboot (${report.rebootPackages.join(', ') || '/var/run/reboot-required'}); --reboot never leaves it so`)
  const unhealthyBefore = (await workloadsPending(kube, ctx.signal)).map((p) => p.key)
  return {idle: !upgrade && !reboot, packages: describeChanges(report.simulation), reboot, rebootPackages: report.rebootPackages, unhealthyBefore}
}

/** The dry run's verdicts, for the later steps' checks (a dry run journals no pre-state). */
const planned = (ctx: PatchUnit): Map<string, Verdict> => ctx.memo('node-patch verdicts', () => new Map<string, Verdict>())

function describe(verdict: Verdict): string[] {
  if (verdict.idle) return []
  const reboot = verdict.reboot ? [`reboot${verdict.rebootPackages.length > 0 ? ` (required by ${verdict.rebootPackages.join(', ')})` : ''}`] : ['not reboot']
  return [...verdict.packages, ...reboot]
}

export const checkNode: Step<PatchFacts, PatchParams> = {
  id: 'check',
  rolling: true,
  title: 'Check the cluster and the node',
  targets,
  async plan(ctx) {
    try {
      const verdict = await decide(ctx)
      planned(ctx).set(ctx.target!, verdict)
      return describe(verdict)
    } catch (error) {
      if (!(error instanceof KpError) || error.exitCode === ExitCode.stepFailed) throw error
      // The run would stop here: the dry run says so, and the node's later steps say why they would not run.
      planned(ctx).set(ctx.target!, {idle: true, packages: [], reboot: false, rebootPackages: [], stopped: true})
      return [`stop here: ${errorMessage(error)}`]
    }
  },
  async run(ctx) {
    const verdict = await decide(ctx)
    ctx.recordPreState(verdict)
    ctx.log(verdict.idle ? 'nothing to do: no package to upgrade, no reboot due' : `${verdict.packages.length} package change(s)${verdict.reboot ? ', then a reboot' : ', no reboot'}`)
    for (const line of verdict.packages) ctx.log(line)
  },
}

/** The check's verdict for this unit's node: journaled pre-state, or what the dry run found. */
export function verdictOf(ctx: PatchUnit): Verdict | undefined {
  return (ctx.preStateOf('check') as Verdict | undefined) ?? planned(ctx).get(ctx.target!)
}

/** The skip reason of every step after the check when the node needs nothing. */
export function idle(ctx: PatchUnit): string | false {
  const verdict = verdictOf(ctx)
  if (verdict?.stopped) return 'the check stops here'
  return verdict?.idle ? 'nothing to install and no reboot due on this node' : false
}
