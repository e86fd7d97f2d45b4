/**
 * node-patch on the node itself: its playbooks (playbooks/node-patch/, sent after node-prepare's
 * lib.sh the way node-prepare runs its own) and what pending.sh reports, parsed by src/lib/apt.ts.
 */
import {type NodePackages, parseNodePackages} from '../../apt.js'
import {StepFailedError} from '../../errors.js'
import {type PlaybookFolder, runPlaybook} from '../node-prepare/playbook.js'
import type {PatchUnit} from './facts.js'

export const NODE_PATCH: PlaybookFolder = {dir: 'node-patch', helpers: ['node-prepare/lib.sh', 'node-patch/lock.sh']}

/** pending.sh on the unit's node: `refresh` runs apt-get update first. */
export async function readPackages(ctx: PatchUnit, refresh: boolean): Promise<NodePackages> {
  const node = ctx.target!
  const session = await ctx.ssh(node)
  const kind = ctx.facts.patch?.kind ?? 'upgrade'
  const {code, stderr, stdout} = await runPlaybook(session, 'pending', [kind, refresh ? 'update' : 'no-update'], ctx.signal, NODE_PATCH)
  if (code !== 0) {
    const tail = stderr.trim().split('\n').slice(-4).join('; ')
    throw new StepFailedError(`${node}: cannot read its packages (pending.sh exited ${code}${tail ? `: ${tail}` : ''})`, {
      hint: `kp ssh ${node} -- sudo apt-get update shows what apt says`,
    })
  }

  const report = parseNodePackages(stdout)
  if (report.simulateExit !== 0) {
    throw new StepFailedError(`${node}: apt-get -s ${kind} failed (exit ${report.simulateExit}): ${report.simulateErrors.join('; ') || 'no message'}`, {
      hint: `kp ssh ${node} -- sudo apt-get -s ${kind} shows the whole answer; fix the package state (apt-get -f install), then kp resume`,
    })
  }

  return report
}

/** The marker left in /run (a tmpfs: a reboot removes it) just before kp asks a node to reboot. */
export const REBOOT_MARKER = '/run/kp-patch-reboot'
