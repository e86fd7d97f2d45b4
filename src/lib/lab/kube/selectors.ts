/**
 * Label and field selectors as list requests carry them (`?labelSelector=app=web,tier notin (db)`,
 * `?fieldSelector=spec.nodeName=w1,status.phase!=Failed`), and the `LabelSelector` objects of
 * workloads and PodDisruptionBudgets. Grammar from apimachinery's `labels.Parse` and `fields.ParseSelector`.
 */
import {badRequest} from './status.js'
import type {LabelSelector} from './types.js'

export type LabelOperator = '!=' | '=' | 'exists' | 'in' | '!' | 'notin'

export interface LabelRequirement {
  key: string
  operator: LabelOperator
  values: string[]
}

/** Split at commas outside parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let current = ''
  for (const ch of text) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(current)
      current = ''
    } else {
      current += ch
    }
  }
  parts.push(current)
  return parts.map((p) => p.trim()).filter((p) => p !== '')
}

const KEY = /^(?:[a-z0-9A-Z][-a-z0-9A-Z_.]*\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$/
const VALUE = /^(?:[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?$/

function checked(requirement: string, key: string, values: string[]): void {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${requirement}"`)
  for (const value of values) if (!VALUE.test(value)) throw badRequest(`unable to parse requirement: invalid label value "${value}" in "${requirement}"`)
}

export function parseLabelSelector(text: string): LabelRequirement[] {
  const out: LabelRequirement[] = []
  for (const part of splitTop(text)) {
    const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part)
    if (set) {
      const values = (set[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '')
      checked(part, set[1] ?? '', values)
      out.push({key: set[1] ?? '', operator: set[2] as 'in' | 'notin', values})
      continue
    }
    const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part)
    if (cmp) {
      checked(part, cmp[1] ?? '', [cmp[3] ?? ''])
      out.push({key: cmp[1] ?? '', operator: cmp[2] === '!=' ? '!=' : '=', values: [cmp[3] ?? '']})
      continue
    }
    const not = /^!\s*(\S+)$/.exec(part)
    if (not) {
      checked(part, not[1] ?? '', [])
      out.push({key: not[1] ?? '', operator: '!', values: []})
      continue
    }
    checked(part, part, [])
    out.push({key: part, operator: 'exists', values: []})
  }
  return out
}

/** A workload's `LabelSelector`; an empty one selects everything, a missing one nothing (as PDBs treat it). */
export function fromLabelSelector(selector: LabelSelector | undefined): LabelRequirement[] | undefined {
  if (!selector) return undefined
  const out: LabelRequirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({key, operator: '=', values: [value]}))
  for (const e of selector.matchExpressions ?? []) {
    const operator = {DoesNotExist: '!', Exists: 'exists', In: 'in', NotIn: 'notin'}[e.operator] as LabelOperator
    out.push({key: e.key, operator, values: e.values ?? []})
  }
  return out
}

export function matchesLabels(requirements: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const set = labels ?? {}
  return requirements.every((r) => {
    const has = Object.hasOwn(set, r.key)
    const value = set[r.key]
    switch (r.operator) {
      case '=':
        return has && value === r.values[0]
      case '!=':
        return !has || value !== r.values[0]
      case 'in':
        return has && r.values.includes(value ?? '')
      case 'notin':
        return !has || !r.values.includes(value ?? '')
      case 'exists':
        return has
      case '!':
        return !has
    }
    return false
  })
}

export interface FieldRequirement {
  field: string
  operator: '!=' | '='
  value: string
}

export function parseFieldSelector(text: string, supported: readonly string[] | 'any'): FieldRequirement[] {
  const out: FieldRequirement[] = []
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part)
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`)
    const field = (m[1] ?? '').trim()
    if (supported !== 'any' && !supported.includes(field)) throw badRequest(`field label not supported: ${field}`)
    out.push({field, operator: m[2] === '!=' ? '!=' : '=', value: m[3] ?? ''})
  }
  return out
}

/** The string value of a dotted field path (`spec.nodeName`); booleans as `true`/`false`, missing as ''. */
export function fieldValue(object: unknown, field: string): string {
  let current: unknown = object
  for (const key of field.split('.')) {
    if (current === null || typeof current !== 'object') return ''
    current = (current as Record<string, unknown>)[key]
  }
  if (current === undefined || current === null) return field === 'spec.unschedulable' ? 'false' : ''
  return typeof current === 'string' ? current : JSON.stringify(current)
}

export function matchesFields(requirements: readonly FieldRequirement[], object: unknown): boolean {
  return requirements.every((r) => (fieldValue(object, r.field) === r.value) === (r.operator === '='))
}
