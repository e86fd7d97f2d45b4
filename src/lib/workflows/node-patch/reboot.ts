/**
 * Reboot the node when the OS asks for it (/var/run/reboot-required) or --reboot says so, and wait
 * until it is back: a new boot id, SSH, the kubelet active, the node Ready at the same kubelet
 * version. Never twice: the boot id before is the unit's pre-state, and a marker in /run (a tmpfs,
 * gone after any reboot) is left just before the reboot is asked, so a resume after kill -9 tells
 * "rebooted already" (new boot id), "asked, not down yet" (marker) and "never asked" (neither).
 */
import {wantsReboot} from '../../apt.js'
import type {Step} from '../../engine/types.js'
import {errorMessage, ExitCode, KpError} from '../../errors.js'
import {abortableSleep} from '../../ssh/reboot.js'
import {isReady, waitFor} from '../bootstrap/wait.js'
import {idle, verdictOf} from './check.js'
import {apiProblems, etcdProblems} from './cluster.js'
import {type PatchFacts, type PatchParams, type PatchUnit, roleOf, settingsOf, targets, waitMs} from './facts.js'
import {REBOOT_MARKER} from './node.js'

const REBOOT_TIMEOUT_MS = 10 * 60_000
const READY_TIMEOUT_MS = 10 * 60_000

interface RebootState {
  bootId: string
  kubeletVersion?: string
}

async function sh(ctx: PatchUnit, command: string): Promise<{code: number; stdout: string}> {
  const session = await ctx.ssh(ctx.target!)
  return session.exec(['sh', '-c', command], {allowFailure: true, idempotent: true, signal: ctx.signal, sudo: true})
}

/** Poll the boot id (reconnecting as needed) until it differs from `before`: for a reboot asked by an earlier attempt. */
async function newBoot(ctx: PatchUnit, before: string, timeoutMs: number): Promise<void> {
  const session = await ctx.ssh(ctx.target!)
  const deadline = Date.now() + timeoutMs
  let last = 'it did not answer yet'
  for (;;) {
    try {
      if ((await session.bootId()) !== before) return
      last = 'same boot id: not rebooted yet'
    } catch (error) {
      last = errorMessage(error)
    }

    const left = deadline - Date.now()
    if (left <= 0) break
    await abortableSleep(Math.min(2000, left), ctx.signal)
  }

  throw new Error(`did not come back from its reboot within ${Math.round(timeoutMs / 1000)}s (${last})`)
}

/** The error of a node that is not back: where it stands, the way back, and how to go on. */
function notBack(ctx: PatchUnit, why: string): KpError {
  const node = ctx.target!
  const snapshot = ctx.preStateOf('snapshot')?.snapshot as string | undefined
  const back = snapshot
    ? `If it cannot be fixed, roll its VM back to the snapshot taken before it was touched: kp vm rollback ${snapshot} ${node}.`
    : 'No snapshot was taken of it in this run.'
  return new KpError('step-failed', ExitCode.stepFailed, `${node} is not back after its reboot: ${why}. It stays cordoned.`, {
    hint: `See the runbook section "Reboot the node". ${back} Then "kp resume" finishes it and goes on with the next nodes.`,
  })
}

export const rebootNode: Step<PatchFacts, PatchParams> = {
  id: 'reboot',
  rolling: true,
  title: 'Reboot the node',
  targets,
  async check(ctx) {
    const skip = idle(ctx)
    if (skip) return skip
    if (ctx.preState !== undefined || ctx.dryRun) return ctx.dryRun && !verdictOf(ctx)?.reboot ? 'no reboot due' : false
    const {policy} = settingsOf(ctx)
    const required = (await sh(ctx, 'test -e /var/run/reboot-required')).code === 0
    if (wantsReboot(policy, required, (verdictOf(ctx)?.packages.length ?? 0) > 0)) return false
    return policy === 'never' ? 'never rebooted (--reboot never)' : 'no reboot required (/var/run/reboot-required is absent)'
  },
  plan: (ctx) => {
    const pkgs = verdictOf(ctx)?.rebootPackages ?? []
    return [`reboot ${ctx.target!}${pkgs.length > 0 ? ` (required by ${pkgs.join(', ')})` : ''}, then wait for it to be Ready again`]
  },
  async run(ctx) {
    const node = ctx.target!
    const session = await ctx.ssh(node)
    const bootId = await session.bootId()
    const kubeletVersion = ctx.facts.node?.status?.nodeInfo?.kubeletVersion
    ctx.recordPreState({bootId, kubeletVersion} satisfies RebootState)
    const before = ctx.preState as unknown as RebootState
    const timeoutMs = waitMs(REBOOT_TIMEOUT_MS)
    try {
      if (bootId !== before.bootId) {
        ctx.log(`${node} has rebooted already (boot id ${before.bootId} → ${bootId}): not rebooting it again`)
      } else if ((await sh(ctx, `test -e ${REBOOT_MARKER}`)).code === 0) {
        ctx.log(`a reboot of ${node} was asked before kp stopped: waiting for it, not asking again`)
        await newBoot(ctx, before.bootId, timeoutMs)
      } else {
        const pkgs = (await sh(ctx, 'cat /var/run/reboot-required.pkgs 2>/dev/null | sort -u')).stdout.split('\n').filter(Boolean)
        if (pkgs.length > 0) ctx.log(`reboot required by ${pkgs.join(', ')}`)
        await ctx.mutate(`reboot ${node}`, async () => {
          await session.exec(['sh', '-c', `echo "$1" > ${REBOOT_MARKER}`, 'kp-marker', ctx.runId], {signal: ctx.signal, sudo: true})
          const {seconds} = await session.rebootAndWait({timeoutMs})
          ctx.log(`${node} is back after ${seconds}s`)
        })
      }
    } catch (error) {
      throw notBack(ctx, errorMessage(error))
    }

    await waitBack(ctx, before)
  },
}

/** SSH answers, the kubelet is active, the node is Ready at the kubelet version it had. */
async function waitBack(ctx: PatchUnit, before: RebootState): Promise<void> {
  const node = ctx.target!
  const kube = await ctx.kube()
  const timeoutMs = waitMs(READY_TIMEOUT_MS)
  try {
    await waitFor(`the kubelet on ${node} to be active`, async () => ((await sh(ctx, 'systemctl is-active --quiet kubelet')).code === 0 ? true : 'the kubelet is not active'), {
      intervalMs: 2000,
      log: (line) => ctx.log(line),
      signal: ctx.signal,
      timeoutMs,
    })
    await waitFor(`${node} to be Ready`, async () => {
      const now = await kube.getNode(node, {signal: ctx.signal})
      if (!isReady(now)) return `${node} is not Ready`
      const version = now?.status?.nodeInfo?.kubeletVersion
      if (before.kubeletVersion && version !== before.kubeletVersion) return `${node}'s kubelet is ${version ?? 'unknown'}, not ${before.kubeletVersion} as before the reboot`
      return true
    }, {intervalMs: 1000, log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs})
    // A control plane's node can read Ready before its etcd member and API server are serving again
    // (the status comes through another API server, or from the cache): the uncordon is a write.
    if (roleOf(ctx, node) === 'control-plane') {
      await waitFor(`the API and etcd after ${node}'s reboot`, async () => {
        const problems = [...(await apiProblems(kube, ctx.signal)), ...(await etcdProblems(kube, undefined, false, ctx.signal))]
        return problems.length === 0 ? true : problems.join('; ')
      }, {intervalMs: 1000, log: (line) => ctx.log(line), signal: ctx.signal, timeoutMs})
    }
  } catch (error) {
    if (ctx.signal.aborted) throw error
    throw notBack(ctx, errorMessage(error))
  }
}
