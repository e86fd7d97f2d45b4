import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class NodeUncordon extends BaseCommand<typeof NodeUncordon> {
  static args = {node: Args.string({description: 'The node to put back into service.', required: true})}
  static description = `Mark a node schedulable again, after a drain or a cordon. A schedulable node is left as it is.
Runbook: runbooks/node-uncordon.md.`

  static examples = ['<%= config.bin %> <%= command.id %> w1']

  async run(): Promise<Plan | RunResult> {
    const {args} = await this.parse(NodeUncordon)
    const result = await launch(this.launchContext(), {params: {node: args.node}, workflow: workflows['node-uncordon']})
    if (!('dryRun' in result)) this.log(result.changed === 0 ? `${describeRun(result)}\n${args.node} was already schedulable.` : describeRun(result))
    return result
  }
}
