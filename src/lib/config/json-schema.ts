/** The JSON Schema of kp.yaml (draft 2020-12), generated from the zod schema so the two never drift. */
import {z} from 'zod'

import {KpConfigSchema} from './schema.js'

/** A stable identifier; editors find the schema through the modeline, not through this. */
export const SCHEMA_ID = 'urn:kp:config:kp.yaml:v1'

export function configJsonSchema(): Record<string, unknown> {
  // "input": the file as written, where keys with defaults are optional.
  const generated = z.toJSONSchema(KpConfigSchema, {io: 'input', target: 'draft-2020-12', unrepresentable: 'any'}) as Record<string, unknown>
  const {$schema, description, title, ...rest} = generated
  return {
    $schema,
    $id: SCHEMA_ID,
    title,
    description: `${String(description)} Reference: docs/configuration.md.`,
    ...rest,
  }
}
