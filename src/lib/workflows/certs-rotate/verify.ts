/**
 * Verify the control plane before the next one: every certificate on disk renewed (a new serial, a
 * later expiry); the certificates its API server (<address>:6443) and etcd member (:2379) serve are
 * the renewed files — one still serving what it served before fails, saying so; /readyz ok and
 * every etcd member healthy.
 */
import {APISERVER_PORT, ETCD_CLIENT_PORT} from '../../certs/index.js'
import type {Step} from '../../engine/types.js'
import {StepFailedError} from '../../errors.js'
import {waitFor} from '../bootstrap/wait.js'
import {beforeOf} from './check.js'
import {addressOf, type RotateFacts, type RotateParams, type RotateUnit, targets, waitMs} from './facts.js'
import {nodeProblems, readDisk, servedNow} from './node.js'
import {stopped} from './renew.js'

const HEALTHY_TIMEOUT_MS = 2 * 60_000
const SERVED = [
  {file: 'apiserver', port: APISERVER_PORT, what: 'API server', which: 'apiserver'},
  {file: 'etcd-server', port: ETCD_CLIENT_PORT, what: 'etcd member', which: 'etcd'},
] as const

function fail(ctx: RotateUnit, problems: string[]): StepFailedError {
  const node = ctx.target!
  return new StepFailedError(`${node} is not rotated: ${problems.join('; ')}. The control planes after ${node} were not touched.`, {
    hint: `See the runbook section "Verify the control plane" (runbooks/certs-rotate.md#verify-the-control-plane); once fixed, "kp resume" verifies ${node} again and goes on.`,
  })
}

export const verifyControlPlane: Step<RotateFacts, RotateParams> = {
  id: 'verify',
  rolling: true,
  title: 'Verify the control plane',
  targets,
  check: (ctx) => stopped(ctx),
  plan: (ctx) => [`every certificate renewed on disk and served by ${addressOf(ctx, ctx.target!)}:6443 and :2379; /readyz ok, every etcd member healthy`],
  async run(ctx) {
    const node = ctx.target!
    const before = beforeOf(ctx)
    if (!before) throw new Error('the check did not run')
    const problems: string[] = []
    const disk = await readDisk(ctx)
    for (const [name, old] of Object.entries(before.disk)) {
      const now = disk.get(name)
      if (!now) problems.push(`${name} is gone from disk`)
      else if (now.serialNumber === old.serialNumber || now.notAfter.getTime() <= Date.parse(old.notAfter)) problems.push(`${name} on disk was not renewed (still expires ${old.notAfter.slice(0, 10)})`)
    }

    const served = await servedNow(ctx)
    problems.push(...served.problems)
    for (const s of SERVED) {
      const now = served[s.which]
      const file = disk.get(s.file)
      if (!now || !file) continue
      if (now.fingerprint256 === before.served[s.which]) {
        problems.push(`the renewal left the served certificate unchanged: the ${s.what} at ${addressOf(ctx, node)}:${s.port} still serves the one it served before (expires ${now.notAfter.toISOString().slice(0, 10)})`)
      } else if (now.fingerprint256 !== file.fingerprint256) {
        problems.push(`the ${s.what} at ${addressOf(ctx, node)}:${s.port} serves a certificate that is not ${s.file} on disk (expires ${now.notAfter.toISOString().slice(0, 10)})`)
      }
    }

    if (problems.length > 0) throw fail(ctx, problems)
    try {
      await waitFor(`/readyz and etcd after ${node}`, async () => {
        const left = await nodeProblems(ctx)
        return left.length === 0 ? true : left.join('; ')
      }, {intervalMs: 1000, log: (l) => ctx.log(l), signal: ctx.signal, timeoutMs: waitMs(HEALTHY_TIMEOUT_MS)})
    } catch (error) {
      if (ctx.signal.aborted) throw error
      throw fail(ctx, [error instanceof Error ? error.message : String(error)])
    }

    const soonest = [...disk.values()].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0]
    ctx.log(`${node}: ${disk.size} certificates renewed, the first to expire now does on ${soonest?.notAfter.toISOString().slice(0, 10) ?? '?'}; served API server and etcd certificates are the renewed ones`)
  },
}
