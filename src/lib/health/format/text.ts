import type {ChalkInstance} from 'chalk'

import {plain} from '../../colour.js'
import {table} from '../../table.js'
import {STATUSES, type Status} from '../status.js'
import type {HealthReport} from '../types.js'

const COLOUR = {CRITICAL: 'red', OK: 'green', UNKNOWN: 'magenta', WARNING: 'yellow'} as const satisfies Record<Status, keyof ChalkInstance>

/**
 * A summary line first (what Nagios shows as the service output), then one aligned line per check,
 * with each finding under it when verbose.
 */
export function formatText(report: HealthReport, options: {colour?: ChalkInstance; verbose?: boolean} = {}): string {
  const colour = options.colour ?? plain
  const paint = (s: Status, text = s) => colour[COLOUR[s]](text)
  const counts = STATUSES.map((s) => [s, report.checks.filter((c) => c.status === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`)
  const who = report.cluster ? `kp health ${report.cluster}` : 'kp health'
  const lines = [`${who}: ${paint(report.status)} (${counts.join(', ') || 'no checks'}) in ${(report.durationMs / 1000).toFixed(2)}s`]
  const rows = report.checks.length > 0 ? table(report.checks.map((c) => [c.name, c.status, c.reason])).split('\n') : []
  report.checks.forEach((c, i) => {
    // Colour after aligning, so escape codes do not count as width.
    lines.push(rows[i]!.replace(c.status, paint(c.status)))
    if (options.verbose) for (const d of c.details) lines.push(`    ${d}`)
  })
  return `${lines.join('\n')}\n`
}
