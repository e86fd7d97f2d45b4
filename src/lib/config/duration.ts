/**
 * Durations in kp.yaml are written the way kubectl and Go write them: `90s`, `10m`, `1h30m`.
 * Units must come in order (h, m, s) and each at most once; `ms` is accepted for completeness.
 */
const DURATION = /^(?=\d)(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/

export const DURATION_PATTERN = DURATION.source

/** Milliseconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (text === '') return undefined
  const match = DURATION.exec(text)
  if (!match) return undefined
  const [, h = '0', m = '0', s = '0', ms = '0'] = match
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000 + Number(ms)
}

/** Like parseDuration, for values the schema already validated. */
export function durationMs(text: string): number {
  const ms = parseDuration(text)
  if (ms === undefined) throw new Error(`not a duration: ${text}`)
  return ms
}

export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`
  let s = ms / 1000
  const h = Math.floor(s / 3600)
  s -= h * 3600
  const m = Math.floor(s / 60)
  s -= m * 60
  const out = `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`
  return out || '0s'
}
