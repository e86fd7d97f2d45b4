/** One GET with a deadline, for the preflight downloads (CNI manifest, package index). */

export interface GetOptions {
  fetch?: typeof fetch
  /** Refuse a body larger than this. */
  maxBytes: number
  signal?: AbortSignal
  /** For the whole exchange, body included. */
  timeoutMs: number
}

export interface GetAnswer {
  body: Buffer
  ok: boolean
  status: number
  statusText: string
  /** The URL after redirects. */
  url: string
}

/**
 * The answer (redirects followed, body read; an error status is an answer too), or an Error whose
 * message says what went wrong in words: a timeout, a body too large, or the network error under
 * undici's bare "fetch failed". The caller's own abort (Ctrl-C) is rethrown as it is, so it is never
 * mistaken for a problem with the URL.
 */
export async function httpGet(url: string, options: GetOptions): Promise<GetAnswer> {
  const deadline = AbortSignal.timeout(options.timeoutMs)
  const signal = options.signal ? AbortSignal.any([options.signal, deadline]) : deadline
  try {
    const response = await (options.fetch ?? fetch)(url, {redirect: 'follow', signal})
    const length = Number(response.headers.get('content-length') ?? 0)
    if (length > options.maxBytes) {
      await response.body?.cancel()
      throw new TooLarge(length)
    }

    const body = response.ok ? Buffer.from(await response.arrayBuffer()) : Buffer.alloc(0)
    if (body.length > options.maxBytes) throw new TooLarge(body.length)
    return {body, ok: response.ok, status: response.status, statusText: response.statusText, url: response.url || url}
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason ?? error
    if (error instanceof TooLarge) throw new Error(`it is ${error.bytes} bytes, more than the ${options.maxBytes} expected`)
    if (deadline.aborted) throw new Error(`no complete answer within ${options.timeoutMs / 1000} s`)
    const cause = (error as {cause?: {code?: string; message?: string}}).cause
    throw new Error(cause?.message ?? cause?.code ?? (error instanceof Error ? error.message : String(error)))
  }
}

class TooLarge extends Error {
  constructor(readonly bytes: number) {
    super('too large')
  }
}
