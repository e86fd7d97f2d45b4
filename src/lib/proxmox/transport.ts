/**
 * The HTTP side of the adapter, plugged into proxmox-api as its `ApiRequestable` engine. Not the
 * package's own ProxmoxEngine, because that one resends any request once after a network error —
 * POST included, which would start a second clone — reports failures as plain Errors with the
 * answer JSON inside the message, and cannot take an AbortSignal. Here: one request per attempt, GETs
 * retried with bounded backoff, writes never; typed errors carrying the reason phrase; one log line per
 * request, without the token.
 */
import {setTimeout as delay} from 'node:timers/promises'

import type {ApiRequestable} from 'proxmox-api'
import {type Agent, fetch} from 'undici'

import {InterruptedError} from '../errors.js'
import {redact} from '../redact.js'
import {httpError, ProxmoxError} from './errors.js'
import {certificateError} from './tls.js'

const API_BASE = '/api2/json'

export interface RetryPolicy {
  /** Milliseconds before the second attempt; doubled each time. */
  baseMs: number
  maxMs: number
  /** Attempts in all, for GETs; writes get one. */
  tries: number
}

export const DEFAULT_RETRY: RetryPolicy = {baseMs: 250, maxMs: 2000, tries: 4}

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

export class Transport implements ApiRequestable {
  private readonly authorization: string

  constructor(private readonly options: TransportOptions) {
    this.authorization = `PVEAPIToken=${options.tokenId}=${options.tokenSecret}`
  }

  /** proxmox-api's entry point: `path` already starts with /api2/json. */
  async doRequest(method: string, path: string, _template: string, params?: Record<string, unknown>): Promise<unknown> {
    const envelope = await this.request(method, path.startsWith(API_BASE) ? path.slice(API_BASE.length) : path, params)
    return envelope.data
  }

  /** One call, `path` relative to /api2/json; GETs are retried on transient failures. */
  async request(method: string, path: string, params?: Params): Promise<Envelope> {
    const verb = method.toUpperCase()
    const {retry} = this.options
    const tries = verb === 'GET' ? Math.max(1, retry.tries) : 1
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.attempt(verb, path, params)
      } catch (error) {
        if (attempt >= tries || !(error instanceof ProxmoxError) || !error.transient) throw error
        await sleep(Math.min(retry.maxMs, retry.baseMs * 2 ** (attempt - 1)), this.options.signal)
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
      const response = await fetch(url, {body: inBody ? search.toString() : undefined, dispatcher: this.options.agent, headers, method, signal})
      const text = await response.text()
      this.logLine(`${method} ${path} ${response.status} ${elapsed()}`)
      const envelope = parseEnvelope(text)
      if (response.status === 200) return envelope
      throw httpError({errors: envelope.errors, method, path, reason: response.statusText, status: response.status, tokenId: this.options.tokenId})
    } catch (error) {
      if (error instanceof ProxmoxError) throw error
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
    const code = (cause as {code?: unknown}).code
    const detail = `${typeof code === 'string' ? `${code}: ` : ''}${(cause as Error).message ?? String(cause)}`
    return new ProxmoxError(`${method} ${path}: cannot reach ${this.options.endpoint} (${detail})`, {cause: error, transient: true})
  }

  private logLine(line: string): void {
    this.options.log(redact(line))
  }
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
