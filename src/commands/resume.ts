import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../lib/base-command.js'
import {findRun, isResumable, effectiveStatus, newestResumable} from '../lib/engine/journal.js'
import {launch} from '../lib/engine/launch.js'
import type {Plan} from '../lib/engine/plan.js'
import {describeRun} from '../lib/engine/report.js'
import type {RunResult} from '../lib/engine/runner.js'
import {UsageError} from '../lib/errors.js'
import {loadWorkflow} from '../lib/workflows/index.js'

export default class Resume extends BaseCommand<typeof Resume> {
  static args = {
    run: Args.string({description: 'Run id or unique prefix [default: the newest interrupted, failed or crashed run].'}),
  }

  static description = `Finish an interrupted, failed or crashed run where it stopped.
Units that finished are skipped; every other unit runs again, beginning with its check, so work that was done just before the interruption is not done twice. Refuses when the config file changed since the run began. Asks again (or --yes) before a destructive run or a dangerous choice such as --disable-eviction; host keys are accepted only with --accept-new-host-keys given again.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> 20261123-091500-3f9a --yes']
  static flags = {
    'accept-new-host-keys': Flags.boolean({description: 'Pin SSH host keys kp has not seen; an earlier attempt\'s acceptance is never replayed.'}),
    'allow-config-change': Flags.boolean({description: 'Resume even though the config file changed since the run began.'}),
  }

  async run(): Promise<Plan | RunResult | {resumed: false; runId?: string}> {
    const {args} = await this.parse(Resume)
    const journal = args.run ? findRun(this.stateDir, args.run) : newestResumable(this.stateDir)
    if (!journal) {
      this.log('Nothing to resume: no interrupted, failed or crashed run.')
      return {resumed: false}
    }

    if (!isResumable(journal)) {
      const status = effectiveStatus(journal)
      if (status === 'done') {
        this.log(`Run ${journal.runId} already finished.`)
        return {resumed: false, runId: journal.runId}
      }

      throw new UsageError(`Run ${journal.runId} is still running (pid ${journal.pid} on ${journal.host}).`, {hint: 'Wait for it, or stop it with Ctrl-C first.'})
    }

    if (!journal.configPath && !this.flags.config) throw new UsageError(`Run ${journal.runId} has no config file recorded.`, {hint: 'Pass it with --config.'})
    this.log(`Resuming run ${journal.runId} (${journal.workflow}).`)
    const result = await launch(this.launchContext(this.flags.config ? this.configPath : journal.configPath), {
      acceptNewHostKeys: this.flags['accept-new-host-keys'],
      allowConfigChange: this.flags['allow-config-change'],
      params: journal.params,
      resume: journal,
      workflow: () => loadWorkflow(journal.workflow),
    })
    if (!('dryRun' in result)) this.log(describeRun(result))
    return result
  }
}
