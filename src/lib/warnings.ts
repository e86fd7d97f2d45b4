/**
 * One warning channel per process. Whatever notices something the operator must hear about (TLS
 * verification turned off, …) calls `warn`; the base command shows each warning on stderr as it
 * comes and lists them all in the --json envelope, whatever the renderer. Adapters take a `warn`
 * callback rather than importing this, so their callers pass this one.
 */
import {redact} from './redact.js'

type Listener = (line: string) => void

const said: string[] = []
const listeners = new Set<Listener>()

/** Say it once per process: a warning repeated per connection is noise. */
export function warn(line: string): void {
  const text = redact(line)
  if (said.includes(text)) return
  said.push(text)
  for (const listener of listeners) listener(text)
}

/** Every warning so far, in order. */
export function warnings(): string[] {
  return [...said]
}

/** Hear each warning as it comes; returns the function that stops listening. */
export function onWarning(listener: Listener): () => void {
  listeners.add(listener)
  return () => listeners.delete(listener)
}
