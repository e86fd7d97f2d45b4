import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class VmRollback extends BaseCommand<typeof VmRollback> {
  static args = {
    name: Args.string({description: 'The snapshot to return to.', required: true}),
    nodes: Args.string({description: 'Nodes (default: every node in kp.yaml).'}),
  }

  static description = `Roll the nodes' VMs back to a snapshot: destructive, everything written since is lost.
Shows the plan and asks first (--yes without a terminal). Running VMs are shut down gracefully, rolled back and started again. Runbook: runbooks/vm-rollback.md.`

  static examples = ['<%= config.bin %> <%= command.id %> before-upgrade --dry-run', '<%= config.bin %> <%= command.id %> before-upgrade cp1 cp2 cp3']
  static strict = false

  async run(): Promise<Plan | RunResult> {
    const {argv} = await this.parse(VmRollback)
    const [name, ...nodes] = argv as string[]
    const result = await launch(this.launchContext(), {params: {nodes, snapshot: name}, workflow: workflows['vm-rollback']})
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
