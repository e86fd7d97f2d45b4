/**
 * URL → resource request, as the API server's request-info resolver reads it:
 * `/api/v1/namespaces/{ns}/pods/{name}/eviction`, `/apis/apps/v1/deployments`, `/api/v1/nodes/{name}/status`.
 */
import {findResource, type ResourceDef} from './discovery.js'

export interface ResourceRequest {
  def: ResourceDef
  name?: string
  namespace?: string
  subresource?: string
}

/** Parse a resource path, or undefined when it names no resource the server serves. */
export function parseResourcePath(pathname: string): ResourceRequest | undefined {
  const parts = pathname.split('/').filter((p) => p !== '').map((p) => decodeURIComponent(p))
  let group: string
  let version: string
  let rest: string[]
  if (parts[0] === 'api' && parts.length >= 3) {
    group = ''
    version = parts[1] ?? ''
    rest = parts.slice(2)
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1] ?? ''
    version = parts[2] ?? ''
    rest = parts.slice(3)
  } else {
    return undefined
  }
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const def = findResource(group, version, rest[2] ?? '')
    if (def?.namespaced && rest.length <= 5) return withSub({def, name: rest[3], namespace: rest[1], subresource: rest[4]})
    if (group !== '' || rest.length !== 3) return undefined
  }
  const def = findResource(group, version, rest[0] ?? '')
  if (!def || rest.length > 3) return undefined
  if (def.namespaced) {
    // A namespaced resource across all namespaces: only the collection.
    return rest.length === 1 ? {def} : undefined
  }
  return withSub({def, name: rest[1], subresource: rest[2]})
}

function withSub(request: ResourceRequest): ResourceRequest | undefined {
  if (request.subresource !== undefined && !(request.subresource in request.def.subresources)) return undefined
  const out: ResourceRequest = {def: request.def}
  if (request.namespace !== undefined) out.namespace = request.namespace
  if (request.name !== undefined) out.name = request.name
  if (request.subresource !== undefined) out.subresource = request.subresource
  return out
}
