import {Flags} from '@oclif/core'
import {hostname} from 'node:os'

import {BaseCommand} from '../../lib/base-command.js'
import {assertCanConfirm, confirm} from '../../lib/engine/confirm.js'
import {describeHolder, holderIsDead, type LockHolder, readLock, removeLock} from '../../lib/engine/lock.js'
import {RefusedError} from '../../lib/errors.js'
import {checkClusterName} from '../../lib/paths.js'

export default class RunsUnlock extends BaseCommand<typeof RunsUnlock> {
  static description = `Clear a cluster's run lock left by a run that is gone.
Refuses while the holder is still running on this machine. A run that crashed can usually be finished with "kp resume" instead, which takes its lock over.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --cluster homelab --yes']
  static flags = {
    cluster: Flags.string({description: 'Cluster name [default: cluster.name from the config file].'}),
    force: Flags.boolean({description: 'Clear the lock even though its holder still runs on this machine.'}),
  }

  async run(): Promise<{cluster: string; holder?: LockHolder; unlocked: boolean}> {
    const cluster = this.flags.cluster === undefined ? await this.clusterFromConfig() : checkClusterName(this.flags.cluster, '--cluster')
    const holder = readLock(this.stateDir, cluster)
    if (!holder) {
      this.log(`Cluster "${cluster}" is not locked.`)
      return {cluster, unlocked: false}
    }

    const dead = holderIsDead(holder)
    this.log(`Cluster "${cluster}" is locked by ${describeHolder(holder)}${dead ? ', which is no longer running' : ''}.`)
    if (!dead && holder.host !== 'unknown' && !this.flags.force) {
      throw new RefusedError(`The holder may still be running${holder.host === hostname() ? '' : ` (on ${holder.host})`}; clearing its lock would let two runs change the cluster at once.`, {
        hint: 'Stop that run first (Ctrl-C marks it interrupted and releases the lock), or pass --force if you are sure it is gone.',
      })
    }

    assertCanConfirm('Clearing the lock', {interactive: this.interactive, yes: this.flags.yes})
    if (!(await confirm(`Clear the lock of cluster "${cluster}"?`, {interactive: this.interactive, yes: this.flags.yes}))) {
      throw new RefusedError('Cancelled; the lock is still in place.')
    }

    removeLock(this.stateDir, cluster, holder)
    this.log(`Unlocked. "kp runs show ${holder.runId}" shows where that run stopped.`)
    return {cluster, holder, unlocked: true}
  }

  private async clusterFromConfig(): Promise<string> {
    const {loadConfig} = await import('../../lib/config/load.js')
    return (await loadConfig(this.configPath)).config.cluster.name
  }
}
