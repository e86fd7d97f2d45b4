import {Args} from '@oclif/core'

import {BaseCommand} from '../lib/base-command.js'
import {listJournals} from '../lib/engine/journal.js'
import {displayPath, readRunbook, runbookFile} from '../lib/engine/runbook.js'
import {loadAllWorkflows, loadWorkflow} from '../lib/workflows/index.js'

interface RunbookResult {
  file: string
  lastRun?: string
  steps: Array<{id: string; status: string; title: string}>
  workflow: string
}

export default class Runbook extends BaseCommand<typeof Runbook> {
  static args = {
    workflow: Args.string({description: 'Workflow name; without it, list the workflows and their runbooks.'}),
  }

  static description = "Print a workflow's runbook, each step marked with its status in the last run."
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> vm-seed']

  async run(): Promise<RunbookResult | RunbookResult[]> {
    const {args} = await this.parse(Runbook)
    if (!args.workflow) {
      const all = await loadAllWorkflows()
      for (const wf of all) this.log(`${wf.name.padEnd(16)} ${wf.title}  (${displayPath(runbookFile(wf))})`)
      if (all.length === 0) this.log('No workflows yet.')
      return all.map((wf) => ({file: displayPath(runbookFile(wf)), steps: wf.steps.map((s) => ({id: s.id, status: 'not run', title: s.title})), workflow: wf.name}))
    }

    const workflow = await loadWorkflow(args.workflow)
    const runbook = readRunbook(workflow)
    const last = listJournals(this.stateDir).find((j) => j.workflow === workflow.name)
    const statusOf = (id: string): string => last?.steps.find((s) => s.id === id)?.status ?? 'not run'
    const steps = workflow.steps.map((s) => ({id: s.id, status: statusOf(s.id), title: s.title}))

    this.log(runbook.intro.trimEnd())
    if (last) this.log(`\n> Last run: ${last.runId} (${last.status}). Statuses below are from that run.`)
    for (const section of runbook.sections) {
      const step = steps.find((s) => s.title === section.heading)
      this.log(`\n## ${section.heading}${step ? `  [${step.status}]` : ''}\n${section.body.trimEnd()}`)
    }

    return {file: displayPath(runbookFile(workflow)), ...(last ? {lastRun: last.runId} : {}), steps, workflow: workflow.name}
  }
}
