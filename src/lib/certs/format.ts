import type {ChalkInstance} from 'chalk'

import {plain} from '../colour.js'
import {STATUSES, type Status} from '../health/status.js'
import {table} from '../table.js'
import type {CertificateRow, CertsReport} from './check.js'

const COLOUR = {CRITICAL: 'red', OK: 'green', UNKNOWN: 'magenta', WARNING: 'yellow'} as const satisfies Record<Status, keyof ChalkInstance>

function servedCell(row: CertificateRow): string {
  if (!row.served) return '-'
  if ('error' in row.served) return 'unreadable'
  return row.served.match ? 'same' : `OLD (${row.served.notAfter.slice(0, 10)})`
}

/** The table (node, certificate, expires, days left, CA ok, served, status), each problem under its row, then a summary line. */
export function formatCertsReport(report: CertsReport, colour: ChalkInstance = plain): string {
  const paint = (s: Status, text: string = s) => colour[COLOUR[s]](text)
  const header = ['NODE', 'CERTIFICATE', 'EXPIRES', 'DAYS LEFT', 'CA OK', 'SERVED', 'STATUS']
  const cells = report.certificates.map((r) => [
    r.node,
    r.kind === 'ca' ? `${r.name} (CA)` : r.name,
    r.notAfter ? r.notAfter.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-',
    r.daysLeft === null ? '-' : String(r.daysLeft),
    r.chainsToCa === null ? '-' : r.chainsToCa ? 'yes' : 'NO',
    servedCell(r),
    r.status,
  ])
  const lines = table([header, ...cells]).split('\n')
  const out = [lines[0]!]
  report.certificates.forEach((r, i) => {
    // Colour after aligning, so escape codes do not count as width; the status is the last column.
    out.push(lines[i + 1]!.replace(/\S+$/, paint(r.status)))
    for (const p of r.problems) out.push(`    ${p}`)
  })
  for (const n of report.nodes) if (n.error) out.push(`${n.name}: ${paint('UNKNOWN', 'UNKNOWN')} ${n.error}`)
  const counts = STATUSES.map((s) => [s, report.summary[s.toLowerCase() as Lowercase<Status>]] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s.toLowerCase()}`)
  const soonest = report.certificates.filter((r) => r.daysLeft !== null).sort((a, b) => a.daysLeft! - b.daysLeft!)[0]
  const first = soonest ? `; the first to expire: ${soonest.node} ${soonest.name} in ${soonest.daysLeft} days` : ''
  out.push('', `kp certs check ${report.cluster}: ${paint(report.status)} (${counts.join(', ') || 'nothing read'}) on ${report.nodes.length} node${report.nodes.length === 1 ? '' : 's'}${first}`)
  return `${out.join('\n')}\n`
}
