import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {assertCanConfirm} from '../../lib/engine/confirm.js'
import {launch} from '../../lib/engine/launch.js'
import type {Plan} from '../../lib/engine/plan.js'
import {describeRun} from '../../lib/engine/report.js'
import type {RunResult} from '../../lib/engine/runner.js'
import {RefusedError} from '../../lib/errors.js'
import {builtIn as workflows} from '../../lib/workflows/index.js'

export default class VmDestroy extends BaseCommand<typeof VmDestroy> {
  static args = {node: Args.string({description: 'The node whose VM to destroy.', required: true})}
  static description = `Destroy one node's VM with its disks and snapshots, and forget its SSH host key. Final.
Only VMs kp manages for this cluster. Asks you to type the node's name (or --yes). Runbook: runbooks/vm-destroy.md.`

  static examples = ['<%= config.bin %> <%= command.id %> w3 --dry-run', '<%= config.bin %> <%= command.id %> w3']

  async run(): Promise<Plan | RunResult> {
    const {args} = await this.parse(VmDestroy)
    const lc = this.launchContext()
    if (!this.flags['dry-run'] && !this.flags.yes) {
      assertCanConfirm(`Destroying the VM of ${args.node}`, lc)
      const {input} = await import('@inquirer/prompts')
      const typed = await input({message: `This destroys the VM of ${args.node} with its disks. Type the node name to confirm:`})
      if (typed.trim() !== args.node) throw new RefusedError(`You typed "${typed.trim()}", not "${args.node}"; nothing was changed.`)
    }

    // The typed name is the confirmation: the engine need not ask again.
    const result = await launch({...lc, yes: true}, {params: {nodes: [args.node]}, workflow: workflows['vm-destroy']})
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
