import {Flags} from '@oclif/core'

import {BaseCommand} from '../../lib/base-command.js'
import {effectiveStatus, type EffectiveStatus, type Journal, listRuns, supersededRuns, unitCounts, unreadableAdvice} from '../../lib/engine/journal.js'
import {checkClusterName} from '../../lib/paths.js'
import {table} from '../../lib/table.js'

export interface RunSummary {
  cluster: string
  command: string
  progress: {done: number; total: number}
  resumable: boolean
  runId: string
  startedAt: string
  status: EffectiveStatus
  /** A later run of the same workflow with the same parameters finished: this one needs no resume. */
  supersededBy?: string
  workflow: string
}

/** A run whose journal cannot be read: where it is, what is wrong, what to do. */
export interface UnreadableRunSummary {
  file: string
  hint: string
  problem: string
  resumable: false
  runId: string
  status: 'unreadable'
}

export default class RunsList extends BaseCommand<typeof RunsList> {
  static description = `List past runs, newest first, with where each stopped.
A failed run is "superseded" when a later run of the same workflow with the same parameters finished; it needs no resume. A run whose journal cannot be read is listed as unreadable, with its path.`

  static examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --cluster homelab --limit 5 --json']
  static flags = {
    cluster: Flags.string({description: 'Only runs against this cluster (and runs whose journal cannot be read).'}),
    limit: Flags.integer({default: 20, description: 'How many runs to show.', min: 1}),
  }

  async run(): Promise<Array<RunSummary | UnreadableRunSummary>> {
    const cluster = this.flags.cluster === undefined ? undefined : checkClusterName(this.flags.cluster, '--cluster')
    const entries = listRuns(this.stateDir)
    const superseded = supersededRuns(entries.flatMap((e) => ('journal' in e ? [e.journal] : [])))
    const runs = entries
      .filter((e) => !cluster || !('journal' in e) || e.journal.cluster === cluster)
      .slice(0, this.flags.limit)
      .map((e) => ('journal' in e ? summary(e.journal, superseded.get(e.runId)) : {...e.unreadable, hint: unreadableAdvice(e.unreadable), resumable: false as const, status: 'unreadable' as const}))
    if (runs.length === 0) {
      this.log(`No runs in ${this.stateDir}.`)
      return runs
    }

    const rows = runs.map((r) =>
      r.status === 'unreadable'
        ? [r.runId, '?', '?', 'unreadable', '', '']
        : [r.runId, r.workflow, r.cluster, r.supersededBy ? `${r.status}, superseded` : r.status, `${r.progress.done}/${r.progress.total}`, r.startedAt.replace('T', ' ').slice(0, 19)],
    )
    this.log(table([['RUN', 'WORKFLOW', 'CLUSTER', 'STATUS', 'UNITS', 'STARTED'], ...rows]))
    const notes = runs.map((r) => {
      if (r.status === 'unreadable') return `${r.runId}: its journal cannot be read (${r.problem}). ${r.hint}`
      return r.supersededBy ? `${r.runId}: superseded by ${r.supersededBy}, a later ${r.workflow} with the same parameters that finished; nothing to resume.` : ''
    })
    if (notes.some(Boolean)) this.log(`\n${notes.filter(Boolean).join('\n')}`)
    const resumable = runs.find((r) => r.resumable)
    if (resumable) this.log(`\nFinish ${resumable.runId} with "kp resume ${resumable.runId}".`)
    return runs
  }
}

function summary(j: Journal, supersededBy: string | undefined): RunSummary {
  const status = effectiveStatus(j)
  return {
    cluster: j.cluster,
    command: ['kp', ...j.argv].join(' '),
    progress: unitCounts(j),
    resumable: ['crashed', 'failed', 'interrupted'].includes(status) && !supersededBy,
    runId: j.runId,
    startedAt: j.startedAt,
    status,
    ...(supersededBy ? {supersededBy} : {}),
    workflow: j.workflow,
  }
}
