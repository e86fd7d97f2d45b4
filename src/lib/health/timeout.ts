import {parseDuration} from '../config/duration.js'
import {UsageError} from '../errors.js'

/** `--timeout`: a duration like kp.yaml's (20s, 1m30s), or plain seconds as Nagios plugins take them. */
export function parseTimeout(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(text)
  if (ms === undefined || ms <= 0) throw new UsageError(`--timeout ${text} is not a duration like 20s, 1m or 90 (seconds)`)
  return ms
}
