/**
 * Decoding one document into its Go type, the way apimachinery's JSON serializer does it: keys in
 * the order YAMLToJSON leaves them (sorted, since it goes through a Go map), the first type
 * mismatch remembered while decoding goes on, an error from a custom UnmarshalJSON
 * (metav1.Duration, BootstrapTokenString) ending it at once. Unknown fields are collected for
 * strict mode only when decoding itself succeeded, as sigs.k8s.io/json does.
 */
import {badDuration, durationNotString, tokenNotOfForm, unknownField, wrongType} from './messages.js'
import {jsonKind, type Value} from './parse.js'
import type {Schema, StructSchema} from './schema.js'

export interface Decoded {
  /** The decoding error kubeadm stops with, and the line it is about. */
  error?: {line: number; message: string}
  /** Strict-mode complaints (`unknown field "a.b"`), in the order kubeadm lists them. */
  unknown: {line: number; message: string; path: string}[]
}

const INT_RANGE = {int: [-(2 ** 53), 2 ** 53], int32: [-(2 ** 31), 2 ** 31 - 1], int64: [-(2 ** 63), 2 ** 63]} as const
const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/
const DURATION_UNITS = new Set(['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h'])

/** The error Go's time.ParseDuration gives, or undefined when it accepts the text. */
export function goDurationError(text: string): string | undefined {
  let rest = text.replace(/^[-+]/, '')
  if (rest === '0') return undefined
  if (rest === '') return badDuration(text)
  while (rest !== '') {
    const number = /^(\d*)(\.\d*)?/.exec(rest)!
    if (number[1] === '' && (number[2] ?? '.') === '.') return badDuration(text)
    rest = rest.slice(number[0].length)
    const unit = /^[^\d.]+/.exec(rest)?.[0]
    if (unit === undefined) return `time: missing unit in duration ${JSON.stringify(text)}`
    if (!DURATION_UNITS.has(unit)) return `time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`
    rest = rest.slice(unit.length)
  }

  return undefined
}

const goTypeOf = (schema: Schema): string => {
  switch (schema.kind) {
    case 'unchecked': {
      return 'interface {}'
    }

    case 'bool': {
      return 'bool'
    }

    case 'duration': {
      return 'v1.Duration'
    }

    case 'token': {
      return 'v1.BootstrapTokenString'
    }

    default: {
      return schema.go
    }
  }
}

/** What BootstrapTokenString.UnmarshalJSON sees: the raw JSON with its quotes stripped. */
function rawJsonText(value: Value): string {
  switch (value.t) {
    case 'string': {
      return value.v
    }

    case 'number': {
      return value.src
    }

    case 'bool': {
      return String(value.v)
    }

    default: {
      return value.t
    }
  }
}

export function decodeDocument(schema: StructSchema, root: Value): Decoded {
  let typeError: Decoded['error']
  let fatal: Decoded['error']
  const unknown: Decoded['unknown'] = []

  const mismatch = (value: Value, kind: string, goStruct: string, fieldPath: string[], goType: string) => {
    typeError ??= {line: value.line, message: wrongType(kind, goStruct, fieldPath.join('.'), goType)}
  }

  const walk = (schema: Schema, value: Value, goStruct: string, fieldPath: string[], strictPath: string): void => {
    // JSON null leaves a Go value at its zero value, whatever its type.
    if (fatal || value.t === 'null' || schema.kind === 'unchecked') return
    switch (schema.kind) {
      case 'string':
      case 'bool': {
        const want = schema.kind === 'bool' ? 'bool' : 'string'
        if (value.t !== want) mismatch(value, jsonKind(value), goStruct, fieldPath, goTypeOf(schema))
        return
      }

      case 'int': {
        if (value.t !== 'number') {
          mismatch(value, jsonKind(value), goStruct, fieldPath, schema.go)
        } else {
          const [min, max] = INT_RANGE[schema.go]
          if (!Number.isInteger(value.v) || value.v < min || value.v > max) mismatch(value, `number ${value.src}`, goStruct, fieldPath, schema.go)
        }

        return
      }

      case 'duration': {
        const message = value.t === 'string' ? goDurationError(value.v) : durationNotString(jsonKind(value))
        if (message) fatal = {line: value.line, message}
        return
      }

      case 'token': {
        const text = rawJsonText(value)
        if (!TOKEN.test(text)) fatal = {line: value.line, message: tokenNotOfForm(text)}
        return
      }

      case 'list': {
        if (value.t !== 'array') {
          mismatch(value, jsonKind(value), goStruct, fieldPath, schema.go)
          return
        }

        for (const [i, item] of value.items.entries()) walk(schema.items, item, goStruct, fieldPath, `${strictPath}[${i}]`)
        return
      }

      case 'map': {
        if (value.t !== 'object') {
          mismatch(value, jsonKind(value), goStruct, fieldPath, schema.go)
          return
        }

        for (const e of sortedEntries(value)) walk(schema.values, e.value, goStruct, fieldPath, `${strictPath}[${e.key}]`)
        return
      }

      case 'struct': {
        if (value.t !== 'object') {
          mismatch(value, jsonKind(value), goStruct, fieldPath, schema.go)
          return
        }

        const name = schema.go.split('.').at(-1)!
        for (const e of sortedEntries(value)) {
          const path = strictPath === '' ? e.key : `${strictPath}.${e.key}`
          const field = Object.hasOwn(schema.fields, e.key) ? schema.fields[e.key] : undefined
          if (field) walk(field, e.value, name, [...fieldPath, e.key], path)
          else unknown.push({line: e.line, message: unknownField(path), path})
        }
      }
    }
  }

  walk(schema, root, '', [], '')
  const error = fatal ?? typeError
  return error ? {error, unknown: []} : {unknown}
}

/** YAMLToJSON goes through a Go map, so JSON (and every decoding error) sees the keys sorted. */
function sortedEntries(value: Extract<Value, {t: 'object'}>) {
  return [...value.entries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
}
