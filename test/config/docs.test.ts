import {readFileSync} from 'node:fs'
import path from 'node:path'

import {describe, expect, it} from 'vitest'

import {configJsonSchema} from '../../src/lib/config/json-schema.js'
import {repoRoot} from '../helpers/cli.js'

type Schema = {anyOf?: Schema[]; items?: Schema; properties?: Record<string, Schema>}

/** Every key a user can write, as docs/configuration.md names it: `cluster.cni.manifest`, `nodes[].vmid`. */
function keyPaths(schema: Schema, prefix = ''): string[] {
  // A list of mappings documents its items' keys; a list of values is one key.
  if (schema.items?.properties) return keyPaths(schema.items, `${prefix}[]`)
  if (!schema.properties) return prefix ? [prefix] : []
  return Object.entries(schema.properties).flatMap(([key, child]) => keyPaths(child, prefix ? `${prefix}.${key}` : key))
}

describe('docs/configuration.md', () => {
  const docs = readFileSync(path.join(repoRoot, 'docs', 'configuration.md'), 'utf8')
  const keys = keyPaths(configJsonSchema())

  it('finds the keys of the schema', () => {
    expect(keys).toContain('cluster.cni.manifest')
    expect(keys).toContain('nodes[].vmid')
    expect(keys).toContain('ssh.jumpHost.port')
    expect(keys.length).toBeGreaterThan(45)
  })

  it('documents every key of kp.yaml', () => {
    const missing = keys.filter((key) => !docs.includes(`| \`${key}\` |`))
    expect(missing).toEqual([])
  })

  it('documents no key that does not exist', () => {
    const documented = [...docs.matchAll(/^\| `([\w.[\]]+)` \|/gm)].map((m) => m[1])
    expect(documented.filter((key) => !keys.includes(key!))).toEqual([])
  })

  it('shows each secret source', () => {
    for (const source of ['{env: PVE_TOKEN_SECRET}', '{file: ./secrets/pve-token}', '{command: "pass show pve/kp"}']) expect(docs).toContain(source)
  })
})
