/**
 * Kubernetes failures as typed errors. The API server explains itself in a Status object (message,
 * reason, details.causes); that text is what the operator sees, with the request it answered.
 * Connection failures name the server and the kubeconfig, because "ECONNREFUSED" alone does not say
 * which cluster kp tried.
 */
import {ExitCode, KpError, type KpErrorOptions} from '../errors.js'
import {redact} from '../redact.js'

/** The parts of a metav1.Status kp reads. */
export interface KubeStatus {
  code?: number
  details?: {causes?: Array<{field?: string; message?: string; reason?: string}>; kind?: string; name?: string}
  message?: string
  reason?: string
}

export interface KubeApiErrorOptions extends KpErrorOptions {
  /** HTTP status; undefined when no answer came (connection refused, timeout). */
  status?: number
  statusBody?: KubeStatus
  /** Worth retrying: no answer, 5xx, or 429 from API priority and fairness. */
  transient?: boolean
}

/** A Kubernetes API call failed: an external failure, so the step fails (exit 1) and the run can resume. */
export class KubeApiError extends KpError {
  readonly reason?: string
  readonly status?: number
  readonly statusBody?: KubeStatus
  readonly transient: boolean

  constructor(message: string, options: KubeApiErrorOptions = {}) {
    super('kubernetes', ExitCode.stepFailed, redact(message), options)
    this.name = 'KubeApiError'
    this.status = options.status
    this.statusBody = options.statusBody
    this.reason = options.statusBody?.reason
    this.transient = options.transient ?? false
  }

  /** The reasons in details.causes, e.g. `DisruptionBudget` with "The disruption budget web needs 2 healthy pods…". */
  causes(): Array<{message: string; reason: string}> {
    return (this.statusBody?.details?.causes ?? []).map((c) => ({message: c.message ?? '', reason: c.reason ?? ''}))
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof KubeApiError && error.status === 404
}

/** Parses a Status out of an answer body (text or object); undefined when it is not one. */
export function parseStatus(body: unknown): KubeStatus | undefined {
  let value = body
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body)
    } catch {
      return undefined
    }
  }

  if (value === null || typeof value !== 'object') return undefined
  const status = value as KubeStatus & {kind?: string}
  return status.kind === 'Status' || typeof status.message === 'string' ? status : undefined
}

export interface HttpFailureDetails {
  body: unknown
  kubeconfig: string
  status: number
  /** What kp asked, in words: `GET /version`, `evict pod default/web-1`. */
  what: string
}

export function httpFailure(details: HttpFailureDetails): KubeApiError {
  const status = parseStatus(details.body)
  const {what} = details
  if (details.status === 401) {
    return new KubeApiError(`the Kubernetes API did not accept kp's credentials (401 Unauthorized) on ${what}`, {
      hint: `the client certificate or token in ${details.kubeconfig} is wrong or expired; \`kubeadm certs check-expiration\` on a control plane shows admin.conf's expiry, \`kp certs rotate\` renews it`,
      status: 401,
      statusBody: status,
    })
  }

  if (details.status === 403) {
    return new KubeApiError(`forbidden: ${status?.message ?? what}`, {hint: `the user in ${details.kubeconfig} lacks a permission kp needs; use the cluster's admin.conf`, status: 403, statusBody: status})
  }

  const message = status?.message ?? (typeof details.body === 'string' && details.body.length > 0 ? details.body.slice(0, 300) : `HTTP ${details.status}`)
  return new KubeApiError(`${what}: ${details.status} ${message}`, {status: details.status, statusBody: status, transient: details.status >= 500 || details.status === 429})
}

export function connectionFailure(cause: unknown, server: string, kubeconfig: string, what: string): KubeApiError {
  const code = (cause as {code?: string}).code
  const detail = code ?? (cause instanceof Error ? cause.message : String(cause))
  return new KubeApiError(`could not reach the Kubernetes API at ${server} (${detail}) on ${what}`, {
    cause,
    hint: `is the control plane up and ${server} reachable from here? The server comes from ${kubeconfig}; \`kubectl --kubeconfig ${kubeconfig} get --raw /readyz\` tries the same`,
    transient: true,
  })
}
