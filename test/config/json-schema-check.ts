/**
 * A small JSON Schema checker, enough for kp's generated schema (type, properties, required,
 * additionalProperties, items, enum, pattern, bounds, anyOf, $ref into $defs), so the test does
 * not trust the generator to check itself.
 */
type Schema = Record<string, unknown>

export function jsonSchemaErrors(schema: Schema, value: unknown, root: Schema = schema, at = '$'): string[] {
  if (typeof schema.$ref === 'string') {
    const target = schema.$ref.replace(/^#\//, '').split('/').reduce<unknown>((s, k) => (s as Schema)[k], root)
    return jsonSchemaErrors(target as Schema, value, root, at)
  }

  const errors: string[] = []
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => jsonSchemaErrors(s, value, root, at).length === 0)
    if (!ok) errors.push(`${at}: matches none of anyOf`)
  }

  if (schema.type !== undefined && !hasType(value, schema.type as string)) return [...errors, `${at}: not ${schema.type as string}`]
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${at}: not in enum`)
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) errors.push(`${at}: does not match ${schema.pattern}`)
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) errors.push(`${at}: below minimum`)
    if (typeof schema.maximum === 'number' && value > schema.maximum) errors.push(`${at}: above maximum`)
  }

  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) errors.push(`${at}: too few items`)
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) errors.push(`${at}: too many items`)
    if (schema.items) for (const [i, item] of value.entries()) errors.push(...jsonSchemaErrors(schema.items as Schema, item, root, `${at}[${i}]`))
  }

  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    for (const key of (schema.required ?? []) as string[]) if (!(key in value)) errors.push(`${at}.${key}: required`)
    for (const [key, v] of Object.entries(value)) {
      if (properties[key]) errors.push(...jsonSchemaErrors(properties[key], v, root, `${at}.${key}`))
      else if (schema.additionalProperties === false) errors.push(`${at}.${key}: additional property`)
    }
  }

  return errors
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'array': return Array.isArray(value)
    case 'boolean': return typeof value === 'boolean'
    case 'integer': return Number.isInteger(value)
    case 'number': return typeof value === 'number'
    case 'object': return value !== null && typeof value === 'object' && !Array.isArray(value)
    case 'string': return typeof value === 'string'
    default: return true
  }
}
