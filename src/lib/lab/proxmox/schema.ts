/**
 * The real Proxmox VE 8.3 API schema for the paths kp uses (pve-api-subset.json, embedded), route
 * matching against its path templates, and parameter validation as the real server does it. The
 * validator is exported so tests can check any request — or a whole request log — against the schema.
 */
import {addError, checkProp, type Errors, type SchemaProp} from './formats.js'
import {pveApiSchemaText} from './pve-api-subset.js'

export type PermissionCheck = unknown[]

export interface MethodSchema {
  allowtoken?: number
  description?: string
  parameters?: {additionalProperties?: number; properties?: Record<string, SchemaProp>}
  permissions?: {check?: PermissionCheck; description?: string; user?: string}
  protected?: number
  returns?: unknown
}

export interface ApiSchema {
  paths: Record<string, Record<string, MethodSchema>>
  source: string
}

let cached: ApiSchema | undefined

export function pveApiSchema(): ApiSchema {
  cached ??= JSON.parse(pveApiSchemaText) as ApiSchema
  return cached
}

export const API_BASE = '/api2/json'

export interface PathMatch {
  methods: Record<string, MethodSchema>
  /** Values of the `{name}` segments, URL-decoded. */
  pathParams: Record<string, string>
  /** The schema's path template, e.g. `/nodes/{node}/qemu/{vmid}/config`. */
  template: string
}

/** Find the schema path for a concrete path (with or without `/api2/json`). Literal segments win. */
export function matchPath(path: string): PathMatch | undefined {
  const rel = path.startsWith(API_BASE) ? path.slice(API_BASE.length) : path
  const segments = rel.replace(/\/+$/, '').split('/').slice(1)
  let best: (PathMatch & {literals: number}) | undefined
  for (const [template, methods] of Object.entries(pveApiSchema().paths)) {
    const parts = template.split('/').slice(1)
    if (parts.length !== segments.length) continue
    const pathParams: Record<string, string> = {}
    let literals = 0
    let ok = true
    for (const [i, part] of parts.entries()) {
      const segment = segments[i] ?? ''
      const name = /^\{(.+)\}$/.exec(part)?.[1]
      if (name !== undefined) {
        if (segment === '') ok = false
        else pathParams[name] = safeDecode(segment)
      } else if (part === segment) {
        literals++
      } else {
        ok = false
      }
      if (!ok) break
    }
    if (ok && (!best || literals > best.literals)) best = {methods, pathParams, template, literals}
  }
  if (!best) return undefined
  const {literals: _literals, ...match} = best
  return match
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    return segment
  }
}

/**
 * How many of each `name[n]` option QemuServer allows (MAX_NETS, MAX_SCSI_DISKS…). The schema only
 * says `[n]`; the real server knows `net0`…`net31`.
 */
const INDEX_LIMITS: Record<string, number> = {
  hostpci: 16,
  ide: 4,
  ipconfig: 32,
  mp: 256,
  net: 32,
  numa: 8,
  parallel: 3,
  sata: 6,
  scsi: 31,
  serial: 4,
  unused: 256,
  usb: 14,
  virtio: 16,
  virtiofs: 10,
}

/** The schema property for a parameter name, resolving `net[n]`-style names. */
export function findProperty(properties: Record<string, SchemaProp>, name: string): SchemaProp | undefined {
  const exact = properties[name]
  if (exact) return exact
  const m = /^([a-z]+)(\d+)$/.exec(name)
  if (!m) return undefined
  const base = m[1] ?? ''
  const index = Number(m[2])
  const prop = properties[`${base}[n]`]
  if (!prop) return undefined
  if (String(index) !== m[2]) return undefined
  const limit = INDEX_LIMITS[base]
  if (limit !== undefined && index >= limit) return undefined
  return prop
}

/** Validate parameters (path parameters included) against one method's schema. Empty when valid. */
export function validateParameters(schema: MethodSchema, params: Record<string, string | string[]>): Errors {
  const errors: Errors = {}
  const properties = schema.parameters?.properties ?? {}
  for (const [name, prop] of Object.entries(properties)) {
    if (name.endsWith('[n]')) continue
    checkProp(params[name], prop, name, errors)
  }
  for (const [name, value] of Object.entries(params)) {
    if (properties[name]) {
      const requires = properties[name]?.requires
      if (requires !== undefined && params[requires] === undefined) {
        addError(errors, requires, `missing property - '${name}' requires this property`)
      }
      continue
    }
    const prop = findProperty(properties, name)
    if (prop) {
      checkProp(value, prop, name, errors)
      continue
    }
    if (!schema.parameters?.additionalProperties) {
      addError(errors, name, 'property is not defined in schema and the schema does not allow additional properties')
    }
  }
  return errors
}

export interface RequestLike {
  method: string
  /** The request path, with or without `/api2/json`, without the query string. */
  path: string
  /** Query-string or form parameters (not the path parameters). */
  params: Record<string, string | string[]>
}

export interface RequestCheck {
  errors: Errors
  problem?: 'unknown path' | 'method not in schema' | 'parameters rejected'
  template?: string
}

/** Check one request against the schema: path, method and parameters. */
export function validateRequest(request: RequestLike): RequestCheck {
  const path = request.path.split('?')[0] ?? ''
  const match = matchPath(path)
  if (!match) return {errors: {}, problem: 'unknown path'}
  const method = match.methods[request.method.toUpperCase()]
  if (!method) return {errors: {}, problem: 'method not in schema', template: match.template}
  const errors = validateParameters(method, {...request.params, ...match.pathParams})
  return Object.keys(errors).length > 0
    ? {errors, problem: 'parameters rejected', template: match.template}
    : {errors, template: match.template}
}

export interface LogProblem extends RequestCheck {
  index: number
  method: string
  path: string
}

/** Every request of a log that the real API would not accept as sent. */
export function checkRequestLog(entries: readonly RequestLike[]): LogProblem[] {
  const problems: LogProblem[] = []
  entries.forEach((entry, index) => {
    const check = validateRequest(entry)
    if (check.problem) problems.push({...check, index, method: entry.method, path: entry.path})
  })
  return problems
}
