import {Args} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {effectiveStatus, findRun, type Journal, listJournals, logFile, supersededRuns} from '../../lib/engine/journal.js'

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static args = {
    run: Args.string({default: 'last', description: 'Run id, a unique prefix of one, or "last".'}),
  }

  static description = 'Show one run: every step and target, its status, timings, errors and recorded pre-state.'
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> 20261123-0915 --json']

  async run(): Promise<Journal & {effectiveStatus: string; logFile: string; supersededBy?: string}> {
    const {args} = await this.parse(RunsShow)
    const journal = findRun(this.stateDir, args.run)
    const status = effectiveStatus(journal)
    this.log(`Run ${journal.runId}: ${journal.workflow} on cluster ${journal.cluster}, ${status}`)
    this.log(`Command: kp ${journal.argv.join(' ')}`)
    this.log(`Started ${journal.startedAt}${journal.finishedAt ? `, ended ${journal.finishedAt}` : ''}; ${journal.attempts.length} attempt(s)`)
    for (const [i, step] of journal.steps.entries()) {
      this.log(`${String(i + 1).padStart(2)}. [${step.status}] ${step.title} (${step.id})`)
      for (const unit of step.units) {
        const bits = [unit.status, unit.changed ? 'changed' : '', unit.durationMs === undefined ? '' : `${unit.durationMs} ms`, unit.skippedReason ?? ''].filter(Boolean)
        if (unit.target !== undefined) this.log(`      ${unit.target}: ${bits.join(', ')}`)
        if (unit.error) this.log(`      ${unit.target ? unit.target + ': ' : ''}error: ${unit.error}`)
        if (unit.preState) this.log(`      ${unit.target ? unit.target + ': ' : ''}pre-state: ${JSON.stringify(unit.preState)}`)
      }
    }

    if (journal.error) this.log(`\nError: ${journal.error.message}`)
    const supersededBy = supersededRuns(listJournals(this.stateDir)).get(journal.runId)
    if (supersededBy) this.log(`\nSuperseded by ${supersededBy}, a later ${journal.workflow} with the same parameters that finished; nothing to resume.`)
    else if (['crashed', 'failed', 'interrupted'].includes(status)) this.log(`\nFinish it with "kp resume ${journal.runId}".`)
    this.log(`Log: ${logFile(this.stateDir, journal.runId)}`)
    return {...journal, effectiveStatus: status, logFile: logFile(this.stateDir, journal.runId), ...(supersededBy ? {supersededBy} : {})}
  }
}
