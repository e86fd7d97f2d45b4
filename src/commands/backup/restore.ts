import path from 'node:path'

import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {assertCanConfirm} from '../../lib/engine/confirm.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {RefusedError} from '../../lib/errors.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class BackupRestore extends BaseCommand<typeof BackupRestore> {
  static args = {file: Args.string({description: 'A snapshot kp backup etcd wrote (its .json sidecar beside it).', required: true})}
  static description = `Restore the whole cluster's etcd from a snapshot: every API server and etcd member is stopped, each
member restored from the snapshot, then started again. Everything written since the snapshot is lost.
Asks you to type the cluster's name (or --yes); refuses without a terminal. Runbook: runbooks/etcd-restore.md.`

  static examples = ['<%= config.bin %> <%= command.id %> ~/.local/state/kp/clusters/lab/backups/20261206T081500Z-cp1.db --dry-run']

  async run(): Promise<Plan | RunResult> {
    const {args} = await this.parse(BackupRestore)
    const lc = this.launchContext()
    const {loadConfig} = await import('../../lib/config/load.js')
    const cluster = (await loadConfig(this.configPath)).config.cluster.name
    if (!this.flags['dry-run'] && !this.flags.yes) {
      assertCanConfirm(`Restoring etcd of cluster ${cluster}`, lc)
      const {input} = await import('@inquirer/prompts')
      const typed = await input({message: `This replaces all of cluster ${cluster}'s data with the snapshot; the API is down meanwhile. Type the cluster name to confirm:`})
      if (typed.trim() !== cluster) throw new RefusedError(`You typed "${typed.trim()}", not "${cluster}"; nothing was changed.`)
    }

    // The tag names this restore's files on the nodes; fixed now, so a resume finds them.
    const tag = `kp-restore-${new Date().toISOString().replaceAll(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`
    const result = await launch({...lc, yes: true}, {params: {file: path.resolve(args.file), tag}, workflow: workflows['etcd-restore']})
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
