import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../lib/base-command.js'
import {launch} from '../lib/engine/launch.js'
import type {Plan} from '../lib/engine/plan.js'
import type {RunResult} from '../lib/engine/runner.js'
import {UsageError} from '../lib/errors.js'
import {describeRun} from '../lib/engine/report.js'
import {loadWorkflow} from '../lib/workflows/index.js'

/**
 * Runs any workflow by name. Hidden: every workflow has its own command (`kp vm seed`…); this one
 * serves development and the engine's end-to-end tests.
 */
export default class Run extends BaseCommand<typeof Run> {
  static args = {
    workflow: Args.string({description: 'Workflow name, as "kp runbook" lists them.', required: true}),
  }

  static description = 'Run a workflow by name (development).'
  static examples = ['<%= config.bin %> <%= command.id %> vm-seed --param nodes=cp1 --dry-run']
  static flags = {
    'accept-new-host-keys': Flags.boolean({description: 'Pin SSH host keys kp has not seen, for this run only.'}),
    param: Flags.string({description: 'Workflow parameter as key=value (repeatable).', multiple: true}),
  }

  static hidden = true

  async run(): Promise<Plan | RunResult> {
    const {args} = await this.parse(Run)
    const params: Record<string, string> = {}
    for (const pair of this.flags.param ?? []) {
      const eq = pair.indexOf('=')
      if (eq < 1) throw new UsageError(`--param "${pair}" is not key=value.`)
      params[pair.slice(0, eq)] = pair.slice(eq + 1)
    }

    const result = await launch(this.launchContext(), {acceptNewHostKeys: this.flags['accept-new-host-keys'], params, workflow: () => loadWorkflow(args.workflow)})
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
