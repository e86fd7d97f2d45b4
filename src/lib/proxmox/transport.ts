/**
 * The HTTP side of the adapter, plugged into proxmox-api as its `ApiRequestable` engine. Not the
 * package's own ProxmoxEngine, because that one resends any request once after a network error —
 * POST included, which would start a second clone — reports failures as plain Errors with the
 * answer JSON inside the message, and cannot take an AbortSignal. Here: one request per attempt; a
 * call is sent again, with bounded backoff, only as far as its call site declared it safe (RetrySafety);
 * redirects are refused, not followed; typed errors carrying the reason phrase; one log line per
 * request, without the token.
 */
import {setTimeout as delay} from 'node:timers/promises'

import type {ApiRequestable} from 'proxmox-api'
import {type Agent, fetch} from 'undici'

import {ConfigError, InterruptedError} from '../errors.js'
import {redact} from '../redact.js'
import {httpError, ProxmoxError} from './errors.js'
import {certificateError} from './tls.js'

const API_BASE = '/api2/json'

export interface RetryPolicy {
  /** Milliseconds before the second attempt; doubled each time. */
  baseMs: number
  maxMs: number
  /** Attempts in all, for a call that may be sent again. */
  tries: number
}

/**
 * Six tries, 250 ms doubling to 4 s (7.75 s of pauses at most): a seed makes a few hundred calls, so at
 * a 30 % error rate four tries (0.8 % of calls failing) still failed most runs; six fail 0.07 %.
 */
export const DEFAULT_RETRY: RetryPolicy = {baseMs: 250, maxMs: 4000, tries: 6}

/**
 * What a call may do after an answer that does not say whether it was carried out (connection lost,
 * no answer in time, a gateway's 5xx, a bare 500). Each call site in client.ts declares it:
 * - `read`: changes nothing (GETs, the guest agent's ping): sent again.
 * - `repeatable`: a write whose repetition changes nothing more or is refused — a config change
 *   carrying its digest, a resize to an absolute size: sent again.
 * - `once`: every other write (clone, start, snapshot…): sent once; the caller finds out what happened.
 * Any call is sent again when Proxmox said it did nothing yet (ProxmoxError.busy: lock contention).
 */
export type RetrySafety = 'once' | 'read' | 'repeatable'

export interface RequestOptions {
  /** Called before each new try, with the error that made it necessary. */
  onRetry?: (error: ProxmoxError) => void
  /** `read` for GETs and `once` for writes unless the call site says otherwise. */
  safety?: RetrySafety
}

export interface TransportOptions {
  agent: Agent
  /** `https://host:port`, no path. */
  endpoint: string
  log: (line: string) => void
  requestTimeoutMs: number
  retry: RetryPolicy
  signal?: AbortSignal
  tokenId: string
  tokenSecret: string
}

/** The whole answer: `data`, and `total` where Proxmox adds it (task logs). */
export interface Envelope {
  data: unknown
  errors?: unknown
  total?: number
}

type Params = Record<string, unknown> | undefined

function scalar(value: unknown): string {
  if (value === true) return '1'
  if (value === false) return '0'
  if (typeof value === 'string') return value
  return typeof value === 'number' || typeof value === 'bigint' ? value.toString() : JSON.stringify(value)
}

/** Proxmox wants booleans as 0/1; undefined and null mean "not given". */
function encodeParams(params: Params): URLSearchParams {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value === undefined || value === null) continue
    if (Array.isArray(value)) for (const item of value) search.append(key, scalar(item))
    else search.set(key, scalar(value))
  }

  return search
}

/** Sleep that an abort ends at once, as an InterruptedError. */
export async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, {signal})
  } catch (error) {
    if (signal?.aborted) throw new InterruptedError('interrupted while waiting for Proxmox', {cause: error})
    throw error
  }
}

/** Whether a failed try may be followed by another one, for a call of this safety. */
export function mayRetry(error: unknown, safety: RetrySafety): error is ProxmoxError {
  if (!(error instanceof ProxmoxError)) return false
  return error.busy || (error.transient && safety !== 'once')
}

export class Transport {
  private readonly authorization: string
  /** Proxmox's clock minus ours, from the Date header of the last answer (pveproxy sends one on every answer). */
  private clockOffsetMs = 0

  constructor(private readonly options: TransportOptions) {
    this.authorization = `PVEAPIToken=${options.tokenId}=${options.tokenSecret}`
  }

  /** proxmox-api's engine for calls of this safety: `path` already starts with /api2/json. */
  engine(safety: RetrySafety, onRetry?: (error: ProxmoxError) => void): ApiRequestable {
    return {
      doRequest: async (method, path, _template, params) => {
        const envelope = await this.request(method, path.startsWith(API_BASE) ? path.slice(API_BASE.length) : path, params, {onRetry, safety})
        return envelope.data
      },
    }
  }

  /** Tries in all of a call that may be sent again. */
  get tries(): number {
    return Math.max(1, this.options.retry.tries)
  }

  /** The pause before try `attempt + 1`. */
  pause(attempt: number): Promise<void> {
    return sleep(backoff(this.options.retry, attempt), this.options.signal)
  }

  /** Now on the Proxmox host's clock (to the second), to compare with task start times. */
  serverNow(): number {
    return Date.now() + this.clockOffsetMs
  }

  /** One call, `path` relative to /api2/json, tried again as far as its safety allows. */
  async request(method: string, path: string, params?: Params, options: RequestOptions = {}): Promise<Envelope> {
    const verb = method.toUpperCase()
    const safety = options.safety ?? (verb === 'GET' ? 'read' : 'once')
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(verb, path, params)
      } catch (error) {
        if (attempt >= this.tries || !mayRetry(error, safety)) throw error
        options.onRetry?.(error)
        await this.pause(attempt)
      }
    }
  }

  private async attempt(method: string, path: string, params: Params): Promise<Envelope> {
    this.options.signal?.throwIfAborted()
    const search = encodeParams(params)
    const inBody = method === 'POST' || method === 'PUT'
    const url = `${this.options.endpoint}${API_BASE}${path}${!inBody && search.size > 0 ? `?${search.toString()}` : ''}`
    const headers: Record<string, string> = {Accept: 'application/json', Authorization: this.authorization}
    if (inBody) headers['Content-Type'] = 'application/x-www-form-urlencoded'
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs)
    const signal = this.options.signal ? AbortSignal.any([this.options.signal, timeout]) : timeout
    const started = performance.now()
    const elapsed = () => `${Math.round(performance.now() - started)}ms`
    try {
      // A redirect is never followed: it would carry the token to another place, perhaps over plain http.
      const response = await fetch(url, {body: inBody ? search.toString() : undefined, dispatcher: this.options.agent, headers, method, redirect: 'manual', signal})
      const text = await response.text()
      this.logLine(`${method} ${path} ${response.status} ${elapsed()}`)
      this.noteClock(response.headers.get('date'))
      if (response.status >= 300 && response.status < 400) throw redirected(this.options.endpoint, response.status, response.headers.get('location'))
      const envelope = parseEnvelope(text)
      if (response.status === 200) return envelope
      throw httpError({errors: envelope.errors, method, path, reason: response.statusText, status: response.status, tokenId: this.options.tokenId})
    } catch (error) {
      if (error instanceof ProxmoxError || error instanceof ConfigError) throw error
      this.logLine(`${method} ${path} failed ${elapsed()}`)
      throw this.requestFailure(method, path, error, timeout)
    }
  }

  /** Why a request got no answer, as a typed error; `transient` when it may or may not have run. */
  private requestFailure(method: string, path: string, error: unknown, timeout: AbortSignal): Error {
    if (this.options.signal?.aborted) return new InterruptedError(`interrupted during ${method} ${path}`, {cause: error})
    if (timeout.aborted) {
      return new ProxmoxError(`${method} ${path}: no answer from ${this.options.endpoint} within ${this.options.requestTimeoutMs / 1000} s`, {cause: error, transient: true})
    }

    const cause = (error as {cause?: unknown}).cause ?? error
    if (cause instanceof ProxmoxError) return cause
    const certificate = certificateError(this.options.endpoint, cause)
    if (certificate) return certificate
    if (cause instanceof ConfigError) return cause
    const code = (cause as {code?: unknown}).code
    const detail = `${typeof code === 'string' ? `${code}: ` : ''}${(cause as Error).message ?? String(cause)}`
    // Refused at connect: the request was never sent, so any call may go again.
    return new ProxmoxError(`${method} ${path}: cannot reach ${this.options.endpoint} (${detail})`, {busy: code === 'ECONNREFUSED', cause: error, transient: true})
  }

  private noteClock(date: string | null): void {
    const at = date === null ? Number.NaN : Date.parse(date)
    if (!Number.isNaN(at)) this.clockOffsetMs = at - Date.now()
  }

  private logLine(line: string): void {
    this.options.log(redact(line))
  }
}

function backoff(retry: RetryPolicy, attempt: number): number {
  return Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1))
}

/** Where a redirect points, said plainly: kp.yaml names the wrong address. */
function redirected(endpoint: string, status: number, location: string | null): ConfigError {
  let target: URL | undefined
  try {
    target = location === null ? undefined : new URL(location, endpoint)
  } catch {
    target = undefined
  }

  const where = target ? target.href.slice(0, 200) : `${JSON.stringify((location ?? '').slice(0, 200))} (not a URL)`
  const fix =
    target?.protocol === 'https:' ? `${target.origin} if that is the Proxmox API` : 'the https address the Proxmox API answers on itself (https://HOST:8006)'
  return new ConfigError(redact(`Proxmox at ${endpoint} answered ${status} redirecting to ${where}; set proxmox.endpoint to ${fix}`), {
    hint: 'kp does not follow redirects: they could carry the API token elsewhere, or over plain http. A proxy that redirects (to a login page, another port) cannot front the API',
  })
}

function parseEnvelope(text: string): Envelope {
  if (text === '') return {data: null}
  try {
    return JSON.parse(text) as Envelope
  } catch {
    // An error page from a proxy in front of Proxmox: the status line still says what happened.
    return {data: null}
  }
}
