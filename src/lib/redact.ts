/**
 * Every secret kp resolves is registered here, and every line that reaches a log, a journal or an
 * error message passes through `redact`. Registering is cheap; forgetting to redact is not.
 */
const secrets = new Set<string>()

export const REDACTED = '[REDACTED]'

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; no real token or key is this short.
  if (value.length < 6) return
  secrets.add(value)
  // A text that quotes JSON (an API's answer in an error message) holds the secret escaped: `a\"b` for `a"b`.
  const escaped = JSON.stringify(value).slice(1, -1)
  if (escaped !== value) secrets.add(escaped)
}

export function redact(text: string): string {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }

  return out
}

/**
 * A copy of a JSON-compatible value with every string in it redacted, keys included. It redacts the
 * values themselves, not their JSON text: there a secret holding `"`, `\` or a newline is escaped and
 * would no longer match. What JSON would drop (undefined, functions) is dropped; toJSON is honoured.
 */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value
  return redactValue(value) as T
}

function redactValue(value: unknown): unknown {
  if (typeof value === 'string') return redact(value)
  if (typeof value !== 'object' || value === null) return value
  if (typeof (value as {toJSON?: unknown}).toJSON === 'function') return redactValue((value as {toJSON: () => unknown}).toJSON())
  if (Array.isArray(value)) return value.map((item) => (item === undefined || typeof item === 'function' ? null : redactValue(item)))
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    if (item !== undefined && typeof item !== 'function') out[redact(key)] = redactValue(item)
  }

  return out
}

export function clearSecretsForTests(): void {
  secrets.clear()
}
