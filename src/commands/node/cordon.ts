import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class NodeCordon extends BaseCommand<typeof NodeCordon> {
  static args = {node: Args.string({description: 'The node to cordon.', required: true})}
  static description = `Mark a node unschedulable: running pods stay, new ones go elsewhere. A cordoned node is left as it is.
Runbook: runbooks/node-cordon.md.`

  static examples = ['<%= config.bin %> <%= command.id %> w1']

  async run(): Promise<Plan | RunResult> {
    const {args} = await this.parse(NodeCordon)
    const result = await launch(this.launchContext(), {params: {node: args.node}, workflow: workflows['node-cordon']})
    if (!('dryRun' in result)) this.log(result.changed === 0 ? `${describeRun(result)}\n${args.node} was already cordoned.` : describeRun(result))
    return result
  }
}
