/**
 * Every secret kp resolves is registered here, and every line that reaches a log, a journal or an
 * error message passes through `redact`. Registering is cheap; forgetting to redact is not.
 */
const secrets = new Set<string>()

export const REDACTED = '[REDACTED]'

export function registerSecret(value: string): void {
  // Very short values would redact ordinary words; no real token or key is this short.
  if (value.length >= 6) secrets.add(value)
}

export function redact(text: string): string {
  let out = text
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED)
  }

  return out
}

/** Redact every string inside a JSON-compatible value. */
export function redactDeep<T>(value: T): T {
  if (secrets.size === 0) return value
  return JSON.parse(redact(JSON.stringify(value))) as T
}

export function clearSecretsForTests(): void {
  secrets.clear()
}
