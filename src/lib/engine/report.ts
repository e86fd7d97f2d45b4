import {displayPath} from './runbook.js'
import type {RunResult} from './runner.js'

/** The closing lines of a finished run, for people. */
export function describeRun(result: RunResult): string {
  const units = result.steps.reduce((n, s) => n + s.units.length, 0)
  return [
    `Run ${result.runId} done: ${units} unit(s), ${result.changed} changed.`,
    `Log: ${displayPath(result.logFile)}`,
  ].join('\n')
}
