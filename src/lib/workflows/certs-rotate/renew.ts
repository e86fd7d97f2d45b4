/**
 * Renew the certificates: `kubeadm certs renew all` on the control plane (as root, keys kept).
 * Never twice: before it runs, the files on disk are compared with the check's pre-state — every
 * serial changed means an earlier attempt renewed them already (kill -9 after kubeadm finished),
 * some changed means it was cut off half-way, and only those still old are renewed, by name.
 */
import type {Step} from '../../engine/types.js'
import {ExternalCommandError} from '../../errors.js'
import {beforeOf} from './check.js'
import {type RotateFacts, type RotateParams, type RotateUnit, targets} from './facts.js'
import {readDisk} from './node.js'

/** The certificates whose serial on disk is still the one the check found. */
async function stillOld(ctx: RotateUnit): Promise<{all: string[]; old: string[]}> {
  const before = beforeOf(ctx)?.disk ?? {}
  const now = await readDisk(ctx)
  const all = Object.keys(before)
  return {all, old: all.filter((name) => now.get(name)?.serialNumber === before[name]!.serialNumber)}
}

/** The check stopped the dry run at this control plane: nothing after it would run. */
export function stopped(ctx: RotateUnit): string | false {
  return ctx.dryRun && beforeOf(ctx) === undefined ? 'the check stops here' : false
}

export const renewCertificates: Step<RotateFacts, RotateParams> = {
  id: 'renew',
  rolling: true,
  title: 'Renew the certificates',
  targets,
  async check(ctx) {
    const stop = stopped(ctx)
    if (stop || ctx.dryRun) return stop
    const {all, old} = await stillOld(ctx)
    return old.length === 0 ? `already renewed: the serial of each of the ${all.length} certificates differs from before` : false
  },
  plan(ctx) {
    const names = Object.keys(beforeOf(ctx)?.disk ?? {})
    return [`kubeadm certs renew all on ${ctx.target!}: ${names.join(', ')}`]
  },
  async run(ctx) {
    const node = ctx.target!
    const session = await ctx.ssh(node)
    const {all, old} = await stillOld(ctx)
    // The node's clock before the renewal: a static pod started after it runs with the new files.
    const {stdout} = await session.exec(['date', '+%s'], {idempotent: true, signal: ctx.signal})
    ctx.recordPreState({renewedFrom: Number(stdout.trim())})
    const names = old.length === all.length ? ['all'] : old
    if (names[0] !== 'all') ctx.log(`an earlier attempt renewed ${all.length - old.length} of them already: renewing only ${old.join(', ')}`)
    for (const name of names) {
      await ctx.mutate(`kubeadm certs renew ${name} on ${node}`, async () => {
        const result = await session.exec(['kubeadm', 'certs', 'renew', name], {allowFailure: true, signal: ctx.signal, sudo: true, timeoutMs: 120_000})
        if (result.code !== 0) {
          const tail = result.stderr.trim().split('\n').slice(-3).join('; ')
          throw new ExternalCommandError(`kubeadm certs renew ${name} on ${node} failed (exit ${result.code})${tail ? `: ${tail}` : ''}`, {
            hint: `nothing was restarted; kp ssh ${node} -- sudo kubeadm certs check-expiration shows where the files stand, then kp resume`,
          })
        }
      })
    }

    if (ctx.dryRun) return
    const after = await readDisk(ctx)
    const soonest = [...after.values()].sort((a, b) => a.notAfter.getTime() - b.notAfter.getTime())[0]
    if (soonest) ctx.log(`renewed on disk: the first to expire now does on ${soonest.notAfter.toISOString().slice(0, 10)}`)
  },
}
