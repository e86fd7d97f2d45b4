/**
 * The HTTP side of the Kubernetes adapter: client-node's generated APIs send through this instead of
 * their default (node-fetch with a new TLS agent per request, so every call pays a handshake, and no
 * deadline unless each caller wires one). Here: one keep-alive agent per connection; a timeout per
 * request combined with the caller's AbortSignal; GETs retried with bounded backoff on no answer,
 * 5xx or 429 (writes are retried by the caller, who knows whether that is safe); one log line per
 * request; a request counter for benchmarks.
 */
import {Agent, request as httpsRequest, type RequestOptions} from 'node:https'
import {setTimeout as delay} from 'node:timers/promises'

import {InterruptedError} from '../errors.js'

export interface RetryPolicy {
  baseMs: number
  maxMs: number
  /** Attempts in all, for GETs. */
  tries: number
}

export const DEFAULT_RETRY: RetryPolicy = {baseMs: 200, maxMs: 2000, tries: 4}

export interface TransportOptions {
  /** TLS and auth settings from the kubeconfig (client-node's applyToHTTPSOptions). */
  tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'passphrase' | 'pfx' | 'rejectUnauthorized' | 'servername'>
  headers: Record<string, string>
  log?: (line: string) => void
  requestTimeoutMs: number
  retry: RetryPolicy
  signal?: AbortSignal
}

export interface RawAnswer {
  body: string
  headers: Record<string, string>
  status: number
}

/** No answer at all: refused, reset, TLS failure, or the per-request timeout. */
export class NoAnswerError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    options?: {cause?: unknown},
  ) {
    super(message, options)
    this.name = 'NoAnswerError'
  }
}

export class Transport {
  readonly agent: Agent
  private count = 0

  constructor(private readonly options: TransportOptions) {
    this.agent = new Agent({...options.tls, keepAlive: true, maxSockets: 32})
  }

  requests(): number {
    return this.count
  }

  close(): void {
    this.agent.destroy()
  }

  /** One request with retries for GETs. Never throws for an HTTP status; throws NoAnswerError or InterruptedError. */
  async send(method: string, url: string, init: {body?: string; headers?: Record<string, string>; signal?: AbortSignal} = {}): Promise<RawAnswer> {
    const tries = method === 'GET' ? this.options.retry.tries : 1
    let wait = this.options.retry.baseMs
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await this.once(method, url, init)
        const retriable = answer.status >= 500 || answer.status === 429
        if (!retriable || attempt >= tries) return answer
        this.options.log?.(`kube: ${method} ${pathOf(url)} answered ${answer.status}; retrying (${attempt}/${tries - 1})`)
      } catch (error) {
        if (!(error instanceof NoAnswerError) || attempt >= tries) throw error
        this.options.log?.(`kube: ${method} ${pathOf(url)}: ${error.message}; retrying (${attempt}/${tries - 1})`)
      }

      const signal = this.signalFor(init.signal)
      await delay(wait, undefined, {signal}).catch(() => {
        throw abortError(signal!)
      })
      wait = Math.min(wait * 2, this.options.retry.maxMs)
    }
  }

  private signalFor(callerSignal: AbortSignal | undefined): AbortSignal | undefined {
    const signals = [this.options.signal, callerSignal].filter((s): s is AbortSignal => s !== undefined)
    return signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals)
  }

  private once(method: string, url: string, init: {body?: string; headers?: Record<string, string>; signal?: AbortSignal}): Promise<RawAnswer> {
    const started = Date.now()
    this.count++
    const signal = this.signalFor(init.signal)
    if (signal?.aborted) return Promise.reject(abortError(signal))
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {...this.options.headers, ...init.headers}
      if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body))
      const req = httpsRequest(url, {agent: this.agent, headers, method})
      const onAbort = (): void => {
        req.destroy(abortError(signal!))
      }

      signal?.addEventListener('abort', onAbort, {once: true})
      req.setTimeout(this.options.requestTimeoutMs, () => req.destroy(new NoAnswerError(`no answer within ${this.options.requestTimeoutMs / 1000} s`, 'ETIMEDOUT')))
      req.on('response', (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () => {
          signal?.removeEventListener('abort', onAbort)
          const status = res.statusCode ?? 0
          this.options.log?.(`kube: ${method} ${pathOf(url)} ${status} ${Date.now() - started} ms`)
          const flat: Record<string, string> = {}
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(', ') : v
          resolve({body: Buffer.concat(chunks).toString('utf8'), headers: flat, status})
        })
        res.on('error', (error) => reject(new NoAnswerError(error.message, (error as NodeJS.ErrnoException).code, {cause: error})))
      })
      req.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort)
        if (error instanceof NoAnswerError || error instanceof InterruptedError) reject(error)
        else reject(new NoAnswerError(error.message, (error as NodeJS.ErrnoException).code, {cause: error}))
      })
      req.end(init.body)
    })
  }
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason
  // A deadline (AbortSignal.timeout) is not the operator's Ctrl-C: report it as no answer.
  if (reason instanceof DOMException && reason.name === 'TimeoutError') return new NoAnswerError('deadline reached before the API answered', 'ETIMEDOUT')
  return new InterruptedError('interrupted during a Kubernetes API request')
}

function pathOf(url: string): string {
  const u = new URL(url)
  return u.pathname + u.search
}
