import type {HealthReport} from '../types.js'

/** `--output json`: the report itself, without kp's --json envelope, for monitoring scripts. */
export function formatJson(report: HealthReport): string {
  return `${JSON.stringify(report, null, 2)}\n`
}
