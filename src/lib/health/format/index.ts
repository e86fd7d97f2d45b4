import type {ChalkInstance} from 'chalk'

import type {OutputFormat} from '../names.js'
import type {HealthReport} from '../types.js'
import {formatJson} from './json.js'
import {formatPrometheus} from './prometheus.js'
import {formatText} from './text.js'

export {formatPrometheus} from './prometheus.js'

export function render(report: HealthReport, output: OutputFormat, options: {colour?: ChalkInstance; verbose?: boolean} = {}): string {
  if (output === 'json') return formatJson(report)
  if (output === 'prometheus') return formatPrometheus(report)
  return formatText(report, options)
}
