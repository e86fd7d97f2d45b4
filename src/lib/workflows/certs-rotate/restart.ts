/**
 * Restart the static pods, one by one, the safe way: the manifest is moved out of
 * /etc/kubernetes/manifests into /etc/kubernetes/kp-restart, kp waits until the kubelet has stopped
 * the pod (crictl shows no running container), moves it back, and waits until it runs again and
 * answers (etcd: endpoint health; the API server: /readyz). etcd first, then kube-apiserver, then
 * kube-controller-manager and kube-scheduler (runbooks/certs-rotate.md says why).
 *
 * Resumable at any point: a manifest found in kp's folder is moved back (after its pod has
 * stopped), never left there; a pod whose container started after the renewal is not restarted again.
 */
import type {Step} from '../../engine/types.js'
import {errorMessage, ExitCode, KpError} from '../../errors.js'
import {waitFor} from '../bootstrap/wait.js'
import {beforeOf} from './check.js'
import {addressOf, type Component, COMPONENTS, MANIFESTS, PARKED, type RotateFacts, type RotateParams, type RotateUnit, targets, waitMs} from './facts.js'
import {etcdProblems, podState, readyzProblems} from './node.js'
import {stopped} from './renew.js'

const STOP_TIMEOUT_MS = 3 * 60_000
const BACK_TIMEOUT_MS = 5 * 60_000

async function move(ctx: RotateUnit, component: Component, from: string, to: string): Promise<void> {
  const session = await ctx.ssh(ctx.target!)
  await ctx.mutate(`move ${from}/${component}.yaml to ${to}/ on ${ctx.target!}`, () =>
    session.exec(['sh', '-c', 'mkdir -p "$2" && chmod 700 "$2" && mv -f "$1" "$2/"', 'kp-move', `${from}/${component}.yaml`, to], {signal: ctx.signal, sudo: true}),
  )
}

/** The error that stops the run at this control plane: the others are left untouched. */
function notBack(ctx: RotateUnit, component: Component, why: string): KpError {
  const node = ctx.target!
  return new KpError('step-failed', ExitCode.stepFailed, `${node}: ${component} did not come back after its restart: ${why}. Its manifest is back in ${MANIFESTS}; the control planes after ${node} were not touched.`, {
    hint: `See the runbook section "Restart the static pods" (runbooks/certs-rotate.md#restart-the-static-pods): kp ssh ${node} -- sudo crictl ps -a --name ${component}, then its logs. Once it runs, "kp resume" verifies ${node} and goes on.`,
  })
}

/** Running, and answering where it has a health endpoint kp can reach without the laptop's kubeconfig. */
async function back(ctx: RotateUnit, component: Component): Promise<true | string> {
  const state = await podState(ctx, component)
  if (state.runningSince === undefined) return `${component} is not running yet`
  if (component === 'etcd') {
    const problems = await etcdProblems(ctx, ctx.target!, false)
    return problems.length === 0 ? true : problems.join('; ')
  }

  if (component === 'kube-apiserver') {
    const problems = await readyzProblems(addressOf(ctx, ctx.target!), ctx.signal)
    return problems.length === 0 ? true : problems.join('; ')
  }

  return true
}

async function restart(ctx: RotateUnit, component: Component, renewedFrom: number | undefined): Promise<void> {
  const node = ctx.target!
  const wait = (what: string, condition: () => Promise<true | string>, timeoutMs: number) => waitFor(what, condition, {intervalMs: 500, log: (l) => ctx.log(l), signal: ctx.signal, timeoutMs})
  const state = await podState(ctx, component)
  if (!state.parked) {
    if (!state.manifest) throw new KpError('step-failed', ExitCode.stepFailed, `${node}: ${MANIFESTS}/${component}.yaml is missing, and not in ${PARKED} either`, {hint: 'put the manifest back (kubeadm init phase control-plane / etcd local), then kp resume'})
    if (renewedFrom !== undefined && state.runningSince !== undefined && state.runningSince > BigInt(renewedFrom) * 1_000_000_000n) {
      ctx.log(`${component} was restarted after the renewal already: not restarting it again`)
    } else {
      await move(ctx, component, MANIFESTS, PARKED)
    }
  } else {
    ctx.log(`${PARKED}/${component}.yaml was left by an earlier attempt: its pod is restarted from there`)
  }

  if (ctx.dryRun) return
  if ((await podState(ctx, component)).parked) {
    try {
      await wait(`the kubelet on ${node} to stop ${component}`, async () => ((await podState(ctx, component)).runningSince === undefined ? true : `${component} is still running`), waitMs(STOP_TIMEOUT_MS))
    } finally {
      // Never left out: whatever happened above, the kubelet gets its manifest back.
      if (!ctx.signal.aborted) await move(ctx, component, PARKED, MANIFESTS)
    }
  }

  try {
    await wait(`${component} on ${node} to run and answer`, () => back(ctx, component), waitMs(BACK_TIMEOUT_MS))
  } catch (error) {
    if (ctx.signal.aborted) throw error
    throw notBack(ctx, component, errorMessage(error))
  }
}

export const restartStaticPods: Step<RotateFacts, RotateParams> = {
  id: 'restart',
  rolling: true,
  title: 'Restart the static pods',
  targets,
  check: (ctx) => stopped(ctx),
  plan: (ctx) => COMPONENTS.map((c) => `restart ${c} on ${ctx.target!}: move ${MANIFESTS}/${c}.yaml to ${PARKED}/, wait until the kubelet stopped it, move it back, wait until it answers`),
  async run(ctx) {
    if (!beforeOf(ctx) && !ctx.dryRun) throw new Error('the check did not run')
    const renewedFrom = ctx.preStateOf('renew')?.renewedFrom as number | undefined
    for (const component of COMPONENTS) await restart(ctx, component, renewedFrom)
  },
}
