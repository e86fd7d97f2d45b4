/**
 * Errors as the API server sends them: a `Status` object (kind Status, apiVersion v1, status Failure)
 * with message, reason, details and code, built the way apimachinery's `k8s.io/apimachinery/pkg/api/errors`
 * does (`pods "x" not found`, `deployments.apps "x" already exists`…).
 */

export interface StatusCause {
  field?: string
  message: string
  reason?: string
}

export interface StatusDetails {
  causes?: StatusCause[]
  group?: string
  kind?: string
  name?: string
  retryAfterSeconds?: number
  uid?: string
}

export interface StatusBody {
  apiVersion: 'v1'
  code: number
  details?: StatusDetails
  kind: 'Status'
  message?: string
  metadata: Record<string, never>
  reason?: string
  status: 'Failure' | 'Success'
}

export class KubeError extends Error {
  readonly code: number
  readonly details?: StatusDetails
  readonly reason?: string

  constructor(code: number, reason: string | undefined, message: string, details?: StatusDetails) {
    super(message)
    this.name = 'KubeError'
    this.code = code
    this.reason = reason
    this.details = details
  }

  toStatus(): StatusBody {
    const body: StatusBody = {apiVersion: 'v1', code: this.code, kind: 'Status', message: this.message, metadata: {}, status: 'Failure'}
    if (this.reason) body.reason = this.reason
    if (this.details) body.details = this.details
    return body
  }
}

/** A group-qualified resource as errors name it: `pods`, `deployments.apps`. */
export interface GroupResource {
  group: string
  resource: string
}

function qualified(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource
}

function details(gr: GroupResource, name: string): StatusDetails {
  return gr.group ? {group: gr.group, kind: gr.resource, name} : {kind: gr.resource, name}
}

export function notFound(gr: GroupResource, name: string): KubeError {
  return new KubeError(404, 'NotFound', `${qualified(gr)} "${name}" not found`, details(gr, name))
}

export function alreadyExists(gr: GroupResource, name: string): KubeError {
  return new KubeError(409, 'AlreadyExists', `${qualified(gr)} "${name}" already exists`, details(gr, name))
}

export function conflict(gr: GroupResource, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again'): KubeError {
  return new KubeError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(gr)} "${name}": ${why}`, details(gr, name))
}

/** 422 as validation reports it: `Pod "x" is invalid: metadata.name: Required value`. */
export function invalid(kind: string, name: string, causes: Array<{field: string; message: string; reason?: string}>, group = ''): KubeError {
  const text = causes.map((c) => `${c.field}: ${c.message}`).join(', ')
  const detail: StatusDetails = {causes: causes.map((c) => ({field: c.field, message: c.message, reason: c.reason ?? 'FieldValueInvalid'})), kind, name}
  if (group) detail.group = group
  return new KubeError(422, 'Invalid', `${kind} "${name}" is invalid: ${text}`, detail)
}

/** 422 for bad request options (`PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: …`). */
export function invalidOptions(kind: string, field: string, message: string, reason: string): KubeError {
  return new KubeError(422, 'Invalid', `${kind}.meta.k8s.io "" is invalid: ${field}: ${message}`, {causes: [{field, message, reason}], group: 'meta.k8s.io', kind})
}

export function badRequest(message: string): KubeError {
  return new KubeError(400, 'BadRequest', message)
}

export function methodNotAllowed(): KubeError {
  return new KubeError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})
}

export function unsupportedMediaType(type: string): KubeError {
  return new KubeError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got ${type})`)
}

export function internalError(message: string): KubeError {
  return new KubeError(500, 'InternalError', `Internal error occurred: ${message}`, {causes: [{message}]})
}

export function notFoundPath(): KubeError {
  return new KubeError(404, 'NotFound', 'the server could not find the requested resource', {})
}

export function success(code: number, detail?: StatusDetails): StatusBody {
  const body: StatusBody = {apiVersion: 'v1', code, kind: 'Status', metadata: {}, status: 'Success'}
  if (detail) body.details = detail
  return body
}
