import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {effectiveStatus, type EffectiveStatus, listJournals, unitCounts} from '../../lib/engine/journal.js'
import {table} from '../../lib/table.js'

export interface RunSummary {
  cluster: string
  command: string
  progress: {done: number; total: number}
  resumable: boolean
  runId: string
  startedAt: string
  status: EffectiveStatus
  workflow: string
}

export default class RunsList extends BaseCommand<typeof RunsList> {
  static description = 'List past runs, newest first, with where each stopped.'
  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --cluster homelab --limit 5 --json']
  static flags = {
    cluster: Flags.string({description: 'Only runs against this cluster.'}),
    limit: Flags.integer({default: 20, description: 'How many runs to show.', min: 1}),
  }

  async run(): Promise<RunSummary[]> {
    const runs = listJournals(this.stateDir)
      .filter((j) => !this.flags.cluster || j.cluster === this.flags.cluster)
      .slice(0, this.flags.limit)
      .map((j): RunSummary => {
        const status = effectiveStatus(j)
        return {cluster: j.cluster, command: ['kp', ...j.argv].join(' '), progress: unitCounts(j), resumable: ['crashed', 'failed', 'interrupted'].includes(status), runId: j.runId, startedAt: j.startedAt, status, workflow: j.workflow}
      })
    if (runs.length === 0) {
      this.log(`No runs in ${this.stateDir}.`)
      return runs
    }

    const rows = runs.map((r) => [r.runId, r.workflow, r.cluster, r.status, `${r.progress.done}/${r.progress.total}`, r.startedAt.replace('T', ' ').slice(0, 19)])
    this.log(table([['RUN', 'WORKFLOW', 'CLUSTER', 'STATUS', 'UNITS', 'STARTED'], ...rows]))
    const resumable = runs.find((r) => r.resumable)
    if (resumable) this.log(`\nFinish ${resumable.runId} with "kp resume ${resumable.runId}".`)
    return runs
  }
}
