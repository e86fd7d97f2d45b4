/**
 * Check the control plane before it is touched: /readyz at its own API server and every etcd member
 * healthy, else refuse with nothing changed. Then what is there now — every certificate's serial and
 * expiry on disk and the fingerprints its API server and etcd member serve — becomes the unit's
 * pre-state: the renewal's resume guard and the verification compare with it.
 */
import type {Step} from '../../engine/types.js'
import {errorMessage, ExitCode, KpError, RefusedError} from '../../errors.js'
import {type RotateFacts, type RotateParams, type RotateUnit, targets} from './facts.js'
import {type CertState, nodeProblems, readDisk, servedNow, stateOf} from './node.js'

/** What the control plane had before kp touched it (journaled). */
export interface Before extends Record<string, unknown> {
  disk: Record<string, CertState>
  served: {apiserver?: string; etcd?: string}
}

async function look(ctx: RotateUnit): Promise<Before> {
  const node = ctx.target!
  const problems = await nodeProblems(ctx)
  if (problems.length > 0) {
    throw new RefusedError(`not renewing ${node}'s certificates: ${problems.join('; ')}. Nothing was changed on ${node}.`, {
      hint: 'kp health names what is wrong; fix it, then kp resume (the control planes done already stay done)',
    })
  }

  const [disk, served] = await Promise.all([readDisk(ctx), servedNow(ctx)])
  return {
    disk: Object.fromEntries([...disk].map(([name, c]) => [name, stateOf(c)])),
    served: {apiserver: served.apiserver?.fingerprint256, etcd: served.etcd?.fingerprint256},
  }
}

/** The dry run's findings, for the later steps' plans (a dry run journals no pre-state). */
const planned = (ctx: RotateUnit): Map<string, Before | undefined> => ctx.memo('certs-rotate before', () => new Map<string, Before | undefined>())

/** This control plane's state before it was touched: the journaled pre-state, or what the dry run read. */
export function beforeOf(ctx: RotateUnit): Before | undefined {
  return (ctx.preStateOf('check') as Before | undefined) ?? planned(ctx).get(ctx.target!)
}

export const checkControlPlane: Step<RotateFacts, RotateParams> = {
  id: 'check',
  rolling: true,
  title: 'Check the control plane',
  targets,
  async plan(ctx) {
    try {
      const before = await look(ctx)
      planned(ctx).set(ctx.target!, before)
      const soonest = Object.entries(before.disk).sort(([, a], [, b]) => a.notAfter.localeCompare(b.notAfter))[0]
      return [`/readyz ok, every etcd member healthy${soonest ? `; the first certificate to expire is ${soonest[0]} (${soonest[1].notAfter.slice(0, 10)})` : ''}`]
    } catch (error) {
      if (!(error instanceof KpError) || error.exitCode === ExitCode.stepFailed) throw error
      planned(ctx).set(ctx.target!, undefined)
      return [`stop here: ${errorMessage(error)}`]
    }
  },
  async run(ctx) {
    const before = await look(ctx)
    ctx.recordPreState(before)
    const names = Object.keys(before.disk)
    ctx.log(`${names.length} certificates on disk; serving: API server ${before.served.apiserver ?? 'none'}, etcd ${before.served.etcd ?? 'none'}`)
  },
}
