import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class NodeDrain extends BaseCommand<typeof NodeDrain> {
  static args = {node: Args.string({description: 'The node to drain.', required: true})}
  static description = `Cordon a node and evict its pods through the Eviction API, with kubectl drain's rules: PodDisruptionBudgets respected (refused evictions retried until --timeout), mirror pods skipped, DaemonSet pods left in place, finished pods deleted.
Before anything changes, a preflight names every pod that cannot go as asked — a budget that needs every pod it has, pods no controller re-creates (--force), pods with emptyDir data (--delete-emptydir-data) — and refuses (exit 4). A drain that fails uncordons the node again if it was schedulable before. Runbook: runbooks/node-drain.md.`

  static examples = [
    '<%= config.bin %> <%= command.id %> w1 --dry-run',
    '<%= config.bin %> <%= command.id %> w1',
    '<%= config.bin %> <%= command.id %> w1 --delete-emptydir-data --force --timeout 5m',
  ]

  static flags = {
    'delete-emptydir-data': Flags.boolean({description: 'Also evict pods with emptyDir volumes; their data is lost.'}),
    'disable-eviction': Flags.boolean({description: 'Delete pods instead of evicting them: PodDisruptionBudgets are bypassed. Asks first (or --yes).'}),
    force: Flags.boolean({description: 'Also delete pods no controller re-creates (none, or a DaemonSet that is gone).'}),
    'grace-period': Flags.integer({description: "Seconds each pod gets to terminate [default: maintenance.gracePeriod, else the pod's own].", min: 0}),
    'pod-selector': Flags.string({description: 'Only pods with these labels (a label selector, e.g. app=web).'}),
    'skip-wait-for-delete-timeout': Flags.integer({description: 'Do not wait for pods whose deletion began more than this many seconds ago.', min: 0}),
    timeout: Flags.string({description: 'Give up after this long, e.g. 90s or 10m [default: maintenance.drainTimeout].'}),
  }

  async run(): Promise<Plan | RunResult> {
    const {args, flags} = await this.parse(NodeDrain)
    const result = await launch(this.launchContext(), {
      params: {
        deleteEmptydirData: flags['delete-emptydir-data'],
        disableEviction: flags['disable-eviction'],
        force: flags.force,
        gracePeriod: flags['grace-period'],
        node: args.node,
        podSelector: flags['pod-selector'],
        skipWaitForDeleteTimeout: flags['skip-wait-for-delete-timeout'],
        timeout: flags.timeout,
      },
      workflow: workflows['node-drain'],
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
