/**
 * Nagios plugin states. The exit code is the state's number; which state is "worse" follows the
 * monitoring-plugins' max_state_alt: CRITICAL > UNKNOWN > WARNING > OK, so a check kp could not
 * evaluate is never hidden behind a warning, and never hides a real failure either.
 */
export const STATUSES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const

export type Status = (typeof STATUSES)[number]

export const EXIT_CODE: Record<Status, number> = {CRITICAL: 2, OK: 0, UNKNOWN: 3, WARNING: 1}

const SEVERITY: Record<Status, number> = {CRITICAL: 3, OK: 0, UNKNOWN: 2, WARNING: 1}

export function worst(statuses: Iterable<Status>): Status {
  let result: Status = 'OK'
  for (const s of statuses) if (SEVERITY[s] > SEVERITY[result]) result = s
  return result
}

/** One finding of a check: what is wrong with one node, pod, budget… */
export interface Finding {
  status: Status
  text: string
}

/** How many findings a one-line reason names before it says "and N more". */
const SHOWN = 5

/**
 * A check's outcome from its findings: the worst status, and a reason that names the worst findings
 * first (or `okReason` when there is nothing to say).
 */
export function fromFindings(findings: readonly Finding[], okReason: string): {details: string[]; reason: string; status: Status} {
  const problems = findings.filter((f) => f.status !== 'OK').sort((a, b) => SEVERITY[b.status] - SEVERITY[a.status])
  if (problems.length === 0) return {details: findings.map((f) => f.text), reason: okReason, status: 'OK'}
  const shown = problems.slice(0, SHOWN).map((f) => f.text)
  if (problems.length > SHOWN) shown.push(`and ${problems.length - SHOWN} more`)
  return {details: problems.map((f) => `${f.status}: ${f.text}`), reason: shown.join('; '), status: worst(problems.map((f) => f.status))}
}
