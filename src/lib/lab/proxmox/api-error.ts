import type {Errors} from './formats.js'

/**
 * An answer that is not 200, as the real server gives it: the message becomes the HTTP reason phrase
 * (`500 VM 101 already running`); parameter errors are 400 `Parameter verification failed.` with an
 * `errors` object in the body.
 */
export class ApiError extends Error {
  readonly errors?: Errors
  readonly status: number

  constructor(status: number, message: string, errors?: Errors) {
    super(message.replace(/\n+$/, ''))
    this.name = 'ApiError'
    this.status = status
    this.errors = errors
  }
}

/** `die "…\n"` in a handler: HTTP 500 with the message as reason phrase. */
export function fail(message: string): never {
  throw new ApiError(500, message)
}

/** PVE::Exception::raise_param_exc. */
export function paramError(errors: Errors): never {
  throw new ApiError(400, 'Parameter verification failed.', errors)
}

/** PVE::Exception::raise_perm_exc. */
export function permissionError(what: string): never {
  throw new ApiError(403, `Permission check failed (${what})`)
}

export function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\n+$/, '')
}
